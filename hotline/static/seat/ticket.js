// The ticket form (工单) of the pop's call: filled from its draft, saved with POST /api/tickets; 挂断.
import { api, clearError, showError } from "./api.js";
import { $, option } from "./dom.js";
import { act } from "./seat.js";
import { state } from "./state.js";

const saved = {};         // call id -> the ticket saved from this page for that call
let formCall = null;      // the call the ticket form is filled for

export function fillTicketOptions(opts) {
  for (const c of opts.categories) option($("t-category"), c, c);
  for (const u of opts.urgencies) option($("t-urgency"), u.value, u.label || u.value);
  for (const [n, label] of Object.entries(opts.guided_numbers)) option($("t-guided"), n, `${n} ${label}`);
  option($("t-guided"), "other", "其他号码");
}
$("t-guided").onchange = () => { $("t-guided-other").hidden = $("t-guided").value !== "other"; };

export function renderTicket() {
  const box = $("ticket"), pop = state.pop;
  box.hidden = !pop;
  if (!pop) return;
  if (formCall !== pop.call_id) {  // a new call: a fresh form from its draft
    formCall = pop.call_id;
    $("ticket-form").reset();
    $("t-caller").value = (pop.draft && pop.draft.caller_number) || pop.caller_number || "";
    $("t-guided-other").hidden = true;
  }
  $("ticket-call").textContent = `（来电 ${pop.call_id}）`;
  const done = saved[pop.call_id];
  $("t-save").disabled = done !== undefined;
  $("t-save").textContent = done !== undefined ? "已保存" : "保存工单";
  $("ticket-saved").textContent = done !== undefined ? `已保存：工单 #${done.id}（${done.status}）` : "";
  $("hangup").disabled = !(pop.state === "answered" || pop.state === "ringing");
}

function ticketBody() {
  const body = {call_id: formCall, seat: state.seatNo, by: state.seatNo};
  const put = (key, value) => { if (value !== "" && value != null) body[key] = value; };
  put("caller_number", $("t-caller").value.trim()); put("caller_name", $("t-name").value.trim());
  put("district", $("t-district").value.trim()); put("street", $("t-street").value.trim());
  put("address", $("t-address").value.trim()); put("content", $("t-content").value.trim());
  put("category", $("t-category").value); put("urgency", $("t-urgency").value);
  if ($("t-convenience").checked) body.convenience = true;
  const mode = document.querySelector('input[name="mode"]:checked').value;
  if (mode === "direct") body.direct = true;
  if (mode === "guided") {
    body.guided_to = $("t-guided").value === "other" ? $("t-guided-other").value.trim() : $("t-guided").value;
  }
  return body;
}

$("ticket-form").onsubmit = async (e) => {
  e.preventDefault();
  if (!formCall) return;
  clearError();
  const callId = formCall;
  try {
    const ticket = await api("POST", "/api/tickets", ticketBody(), "保存工单");
    saved[callId] = ticket;
  } catch (err) { showError(err); }  // the server names the field and the rule; the form keeps what was typed
  renderTicket();
};
$("hangup").onclick = () => act("hangup", "挂断");
