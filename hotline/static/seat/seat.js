// The seat's live state (its card): state, pause reason, time in state, caller, misses, the 未接 banner;
// the seat actions (暂停, 恢复, 退出, and 挂断 from the ticket form).
import { api, clearError, showError } from "./api.js";
import { $ } from "./dom.js";
import { state } from "./state.js";
import { renderTw } from "./threeway.js";

const NAMES = {logged_out: "未登录", ready: "就绪", ringing: "振铃", talking: "通话中", wrap_up: "整理", paused: "暂停"};
// the kind of call the seat is on (its snapshot's call_kind): 来电 from the queue, or a call of its own
const KINDS = {inbound: "来电", callback: "回访", outbound: "外呼", internal: "内线", threeway: "三方"};

export async function act(action, label, body) {
  if (!state.seatNo) { showError({action: label, message: "请先输入坐席号并登录"}); return; }
  clearError();
  try {
    await api("POST", `/api/seats/${encodeURIComponent(state.seatNo)}/${action}`, body, label);
    if (action !== "pause") state.missNotice = null;
    render();
  } catch (e) { showError(e); }
}

export function fillReasons(reasons, miss) {
  if (miss) state.missReason = miss;
  const select = $("reason-select"), keep = select.value;
  select.replaceChildren();
  for (const r of reasons.filter(r => r !== state.missReason)) {  // 未接 is the hotline's, not the seat's choice
    const o = document.createElement("option"); o.value = o.textContent = r; select.append(o);
  }
  if (keep && [...select.options].some(o => o.value === keep)) select.value = keep;
}

function fmtDuration(sinceIso) {
  if (!sinceIso) return "";
  const s = Math.max(0, Math.floor((Date.now() - Date.parse(sinceIso)) / 1000));
  return s < 60 ? `${s} 秒` : `${Math.floor(s / 60)} 分 ${s % 60} 秒`;
}

export function render() {
  const {seat, missReason, missNotice, lastMiss} = state;
  const st = seat ? seat.state : null;
  $("seat-no").textContent = state.seatNo || "–";
  const el = $("state");
  el.textContent = st ? (NAMES[st] || st) : "–";
  el.className = st || ""; el.dataset.state = st || "";
  const kind = (st === "ringing" || st === "talking") && seat.call_kind ? KINDS[seat.call_kind] : "";
  $("reason").textContent = st === "paused" && seat.pause_reason ? `（${seat.pause_reason}）` : (kind ? `（${kind}）` : "");
  $("since").textContent = seat && seat.since && st !== "logged_out" ? `已 ${fmtDuration(seat.since)}` : "";
  const onCall = st === "ringing" || st === "talking";
  $("caller").textContent = onCall ? (seat.caller_number || "号码未知") : "–";
  $("misses").textContent = seat ? String(seat.misses_in_row ?? 0) : "–";

  const missPaused = st === "paused" && seat.pause_reason === missReason;
  const banner = $("banner");
  banner.hidden = !(missPaused || missNotice);
  banner.textContent = `漏接来电，已暂停（${missReason}）。准备好后请点击恢复`;
  document.title = (banner.hidden ? "" : "【未接】") + "12345 市长热线 · 坐席";
  const lm = $("last-miss");
  lm.hidden = !lastMiss;
  if (lastMiss) {
    const how = lastMiss.rejected ? "拒接" : `振铃 ${((lastMiss.ring_ms || 0) / 1000).toFixed(1)} 秒未接`;
    lm.textContent = `最近一次未接：${lastMiss.caller_number || "来电"}，${how}（${new Date(lastMiss.at).toLocaleTimeString("zh-CN")}）`;
  }
  const known = st !== null, loggedIn = known && st !== "logged_out";
  renderTw();
  $("pause").disabled = known && !loggedIn;
  $("resume").disabled = known && st !== "paused";
  $("logout").disabled = known && !loggedIn;
}

$("pause").onclick = () => {
  const reason = $("reason-select").value;
  if (!reason) { showError({action: "暂停", message: "请选择暂停原因"}); return; }
  act("pause", "暂停", {reason});
};
$("resume").onclick = () => act("resume", "恢复");
$("logout").onclick = () => act("logout", "退出");
