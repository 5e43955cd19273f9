// The seat page (坐席): login and the start (ticket options, pause reasons, the remembered seat and its login).
// The other modules wire their own parts of the page when they load; this one is loaded by seat.html.
import { api, clearError, showError } from "./api.js";
import { loadDue } from "./callbacks.js";
import { $ } from "./dom.js";
import "./keys.js";  // the Alt chords and the ? list
import { fillReasons, render } from "./seat.js";
import { rewatch, watch } from "./socket.js";
import { SEAT_RE, STORE_KEY, TOKEN_KEY, state } from "./state.js";
import { fillTicketOptions } from "./ticket.js";

$("login-form").onsubmit = async (e) => {
  e.preventDefault();
  const no = $("seat-input").value.trim();
  const password = $("password-input").value;
  clearError();
  if (!no) { showError({action: "登录", message: "请输入坐席号（如 8001）"}); return; }
  if (!password) { showError({action: "登录", message: "请输入密码（坐席话机的密码）"}); return; }
  let session;
  try {
    state.token = null;
    session = await api("POST", "/api/session", {seat: no, password}, "登录");
  } catch (err) { showError(err); return; }
  state.token = session.token;
  $("password-input").value = "";
  localStorage.setItem(STORE_KEY, no);
  localStorage.setItem(TOKEN_KEY, state.token);
  try {
    await api("POST", `/api/seats/${encodeURIComponent(no)}/login`, null, "登录");
  } catch (err) { showError(err); return; }
  state.missNotice = null;
  rewatch(no);  // reconnect with the new token
};

// ---------------------------------------------------------------- start: reasons, and the remembered seat
setInterval(loadDue, 60000);
api("GET", "/api/ticket-options", null, "读取工单选项").then(fillTicketOptions).catch(showError);
api("GET", "/api/pause-reasons", null, "读取暂停原因")
  .then(r => fillReasons(r.pause_reasons, r.miss_reason))
  .catch(showError);
const remembered = localStorage.getItem(STORE_KEY);
state.token = localStorage.getItem(TOKEN_KEY);
if (remembered && SEAT_RE.test(remembered)) {
  $("seat-input").value = remembered;
  if (state.token) watch(remembered); else $("link").textContent = "未登录";
}
render();
setInterval(render, 1000);  // the time in the current state
