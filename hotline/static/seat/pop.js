// The screen pop (弹屏): the call ringing or connected at this seat, its caller's history (加入此工单).
import { api, clearError, showError } from "./api.js";
import { $, text } from "./dom.js";
import { state } from "./state.js";
import { renderTw } from "./threeway.js";
import { renderTicket } from "./ticket.js";
import { focusTicket } from "./keys.js";

const POP_NAMES = {ringing: "振铃", answered: "通话中", ended: "已结束"};
const END_NAMES = {missed: "未接", abandoned: "来电已挂断", hung_up: "通话结束", unknown: "已结束"};
const joined = {};        // call id -> the ticket this call was added to (加入此工单)

export function takePop(p) {
  // one call's changes come with a rising rev; a late end of an older call never hides the newer one
  const pop = state.pop;
  if (!p || p.seat !== state.seatNo) return;
  if (pop && pop.call_id === p.call_id && p.rev <= pop.rev) return;
  if (pop && pop.call_id !== p.call_id && p.state === "ended" && pop.state !== "ended") return;
  state.pop = p;
  if (p.state === "answered" && !(pop && pop.call_id === p.call_id && pop.state === "answered")) {
    setTimeout(focusTicket, 0);  // once the ticket form is shown: the cursor in 诉求内容
  }
}

function fmtMs(ms) {
  if (ms === null || ms === undefined) return "–";
  const s = Math.round(ms / 1000);
  return s < 60 ? `${s} 秒` : `${Math.floor(s / 60)} 分 ${s % 60} 秒`;
}

export function renderPop() {
  const box = $("pop"), pop = state.pop;
  box.hidden = !pop;
  renderTicket();
  renderTw();
  if (!pop) return;
  box.dataset.state = pop.state; box.dataset.call = pop.call_id;
  $("pop-state").textContent = `（${pop.state === "ended" ? (END_NAMES[pop.end_reason] || "已结束") : POP_NAMES[pop.state]}）`;
  $("pop-state").dataset.state = pop.state;
  $("pop-caller").textContent = pop.caller_number || "号码未知";
  $("pop-waited").textContent = fmtMs(pop.waited_ms);
  $("pop-ivr").textContent = pop.ivr && pop.ivr.length ? pop.ivr.join(" → ") : "–";
  const cb = pop.last_callback;
  $("pop-callback").textContent = cb ? [cb.result, cb.at ? new Date(cb.at).toLocaleDateString("zh-CN") : ""].filter(Boolean).join("，") || "有" : "无";
  $("pop-count").textContent = `（${pop.history.length} 件，未办结 ${pop.open_tickets} 件）`;
  $("pop-history-error").textContent = pop.history_error ? `历史工单暂不可用：${pop.history_error}` : "";
  const canJoin = pop.state !== "ended" || pop.end_reason === "hung_up";
  const list = $("pop-history");
  list.replaceChildren();
  for (const t of pop.history) {  // open ones first (the server orders them)
    const li = document.createElement("li");
    li.dataset.ticket = String(t.id); li.className = t.open ? "open" : "closed";
    li.append(text("span", "id", `#${t.id}`), text("span", "status", t.status || "–"),
              text("span", "unit", t.unit || t.unit_name || "未派单"),
              text("span", "summary", t.category || t.content || t.summary || ""));
    if (t.open && canJoin) {
      const btn = document.createElement("button");
      btn.type = "button"; btn.className = "join";
      const done = joined[pop.call_id];
      btn.textContent = done === t.id ? "已加入" : "加入此工单";
      btn.disabled = done !== undefined;
      btn.onclick = () => joinTicket(t.id, state.pop.call_id);
      li.append(btn);
    }
    list.append(li);
  }
}

async function joinTicket(id, callId) {
  clearError();
  try {
    await api("POST", `/api/tickets/${encodeURIComponent(id)}/calls`, {call_id: callId, by: state.seatNo}, "加入工单");
    joined[callId] = id;
  } catch (e) { showError(e); }
  renderPop();
}
