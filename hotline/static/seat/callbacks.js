// 回访 (callbacks): the seat's own open callbacks (待回访, with 自动回访 marks), and the callback the dialer
// rings this seat for first: its pop (the ticket and the script) and the outcome form.
import { api, clearError, showError } from "./api.js";
import { $, text } from "./dom.js";
import { state } from "./state.js";

const CB_STATES = {ringing: "振铃", dialing_citizen: "正在呼叫市民", talking: "通话中", ended: "已结束", recorded: "已记录"};
let callback = null;  // {task_id, attempt_id, state, pop}
export function takeCallback(msg) {
  if (msg.pop) {  // a new callback rings this seat: nothing of the last one's outcome may carry over to it
    callback = {pop: msg.pop};
    $("cb-form").reset();
    $("cb-saved").textContent = "";
  }
  if (!callback || (callback.task_id && callback.task_id !== msg.task_id && !msg.pop)) return;
  Object.assign(callback, {task_id: msg.task_id, state: msg.state, outcome: msg.outcome});
  renderCallback();
}
export async function loadDue() {
  if (!state.seatNo) return;
  let data;
  try { data = await api("GET", `/api/seats/${encodeURIComponent(state.seatNo)}/callbacks`, null, "待回访"); }
  catch (e) { return; }  // a service without the dialer: no list
  const list = $("cb-due-list");
  list.replaceChildren();
  for (const t of data.tasks) {
    const li = document.createElement("li");
    li.dataset.task = String(t.id);
    const due = new Date(t.deadline.at).toLocaleString("zh-CN") + (t.deadline.provisional ? "（暂定）" : "");
    li.append(`${t.ticket_id ? "工单 #" + t.ticket_id : t.kind} ${t.number} 截止 ${due} 已尝试 ${t.attempts} 次`);
    // 自动回访 (HOTLINE_CALLBACK_SURVEY): the IVR asks the citizen (keys 1–3) instead of this seat; a ticket's
    // 回访 only, and only while it waits (the server refuses the mark once a call has started)
    if (data.survey_enabled && t.kind === "回访") {
      li.dataset.survey = t.survey ? "1" : "0";
      if (t.survey) li.append(" ", text("span", "survey", t.status === "pending" ? "自动回访" : "自动回访中"));
      if (t.status === "pending") li.append(" ", surveyButton(t));
    }
    list.append(li);
  }
  $("cb-due-count").textContent = String(data.tasks.length);
  $("cb-due").hidden = data.tasks.length === 0;
}
function surveyButton(t) {
  const button = text("button", "survey-mark", t.survey ? "改为人工回访" : "转自动回访");
  button.type = "button";
  button.onclick = async () => {
    const label = t.survey ? "改为人工回访" : "转自动回访";
    button.disabled = true;
    clearError();
    try { await api("POST", `/api/callbacks/${t.id}/survey`, {survey: !t.survey}, label); }
    catch (e) { showError(e); }  // e.g. 409 callback-not-pending: the call has started; the list shows it now
    await loadDue();
  };
  return button;
}

function renderCallback() {
  const box = $("callback");
  box.hidden = !callback;
  if (!callback) return;
  const task = callback.pop.task, ticket = callback.pop.ticket;
  box.dataset.state = callback.state || "";
  $("cb-state").textContent = CB_STATES[callback.state] || callback.state || "";
  if (callback.state === "ended" && callback.outcome && callback.outcome !== "answered") {
    $("cb-state").textContent = `未接通（${callback.outcome}），稍后重试`;
  }
  $("cb-number").textContent = task.number;
  $("cb-ticket").textContent = ticket ? `#${ticket.id} ${ticket.status}` : "来电回拨";
  $("cb-content").textContent = ticket ? ticket.content : "";
  $("cb-script").textContent = callback.pop.script || "";
  $("cb-save").disabled = callback.state === "recorded";
}
$("cb-form").onsubmit = async (ev) => {
  ev.preventDefault();
  if (!callback) return;
  const chosen = document.querySelector('input[name="cb-outcome"]:checked');
  const body = {outcome: chosen ? chosen.value : null, comment: $("cb-comment").value.trim() || null, by: state.seatNo};
  clearError();
  try {
    const saved = await api("POST", `/api/callbacks/${callback.task_id}/outcome`, body, "保存回访结果");
    callback.state = "recorded";
    $("cb-saved").textContent = `已保存：${saved.outcome}`;
    renderCallback();
  } catch (e) { showError(e); }
};
