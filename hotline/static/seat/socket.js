// The seat's websocket (/ws/seats/{seat}, needs its token): the snapshot and every change, handed to the parts
// of the page; reconnects after 2 s, and asks the server about the token when it is refused.
import { api, showError } from "./api.js";
import { loadDue, takeCallback } from "./callbacks.js";
import { $ } from "./dom.js";
import { renderPop, takePop } from "./pop.js";
import { fillReasons, render } from "./seat.js";
import { forgetLogin, state } from "./state.js";
import { loadThreeway, takeAttempt } from "./threeway.js";

let ws = null;

export function watch(no) {
  if (ws && state.seatNo === no && ws.readyState <= WebSocket.OPEN) return;
  if (ws) { const old = ws; ws = null; old.close(); }
  if (state.seatNo !== no) {
    state.seat = null; state.lastMiss = null; state.missNotice = null; state.pop = null; renderPop();
  }
  state.seatNo = no; render();
  const proto = location.protocol === "https:" ? "wss" : "ws";
  const sock = new WebSocket(`${proto}://${location.host}/ws/seats/${encodeURIComponent(no)}?token=${encodeURIComponent(state.token || "")}`);
  ws = sock;
  let opened = false;
  $("link").textContent = "连接中…";
  sock.onopen = () => { opened = true; if (ws === sock) $("link").textContent = "已连接"; };
  sock.onclose = (ev) => {
    if (ws !== sock) return;  // replaced by another seat's connection
    ws = null;
    if (!opened || ev.code === 4401) { checkLogin(no); return; }  // refused, or the token ran out
    $("link").textContent = "已断开，重连中…";
    setTimeout(() => { if (!ws && state.seatNo === no) watch(no); }, 2000);
  };
  sock.onmessage = (m) => {
    const msg = JSON.parse(m.data);
    if (msg.topic === "snapshot") {
      loadDue();
      state.seat = msg.seat; fillReasons(msg.pause_reasons, msg.miss_reason);
      state.pop = null; takePop(msg.pop); renderPop();  // a reload mid-ring gets the pop again
    }
    else if (msg.topic === "seat") {
      if (msg.state !== "ready") state.missNotice = null;  // the pause (or a new call) has arrived
      state.seat = msg;
    }
    else if (msg.topic === "miss") { state.lastMiss = msg; if (msg.pausing) state.missNotice = msg; }
    else if (msg.topic === "pop") { takePop(msg); renderPop(); }
    else if (msg.topic === "dialer") { takeCallback(msg); if (msg.state === "ended" || msg.state === "recorded") loadDue(); }
    else if (msg.topic === "threeway") takeAttempt(msg);
    if (msg.topic === "snapshot") loadThreeway(no);
    render();
    document.body.dataset.updates = String(Number(document.body.dataset.updates || 0) + 1);
  };
}

export function rewatch(no) {
  // after a new login: the seat's page connects again with the new token
  if (ws && state.seatNo === no) { const old = ws; ws = null; old.close(); }
  watch(no);
}

async function checkLogin(no) {
  // a websocket refused before it opened says nothing about why: ask the server about the token
  try {
    const s = await api("GET", "/api/session", null, "连接");
    if (s.seat !== no) throw Object.assign(new Error("登录信息与坐席号不符"), {status: 403});
  } catch (e) {
    if (e.status === 401 || e.status === 403) {
      forgetLogin(); $("link").textContent = "未登录";
      showError({action: "连接", status: e.status, code: e.code, message: `${e.message}（请输入密码重新登录）`});
      return;
    }
  }
  $("link").textContent = "已断开，重连中…";
  setTimeout(() => { if (!ws && state.seatNo === no && state.token) watch(no); }, 2000);
}
