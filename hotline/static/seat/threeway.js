// 三方通话 with a handling unit (承办单位): the directory search, the number to dial, the attempt's state and
// its commands (POST /api/seats/{seat}/threeway, /join, /leave, /cancel); changes come on the websocket.
import { api, clearError, showError } from "./api.js";
import { $, option, text } from "./dom.js";
import { state } from "./state.js";

const TW_RANK = {requested: 0, ringing: 1, consulting: 2, joined: 3, seat_left: 4};  // any end ranks above
const TW_FAILED = new Set(["no_answer", "busy", "failed"]);
const TW_TEXT = {
  requested: "正在呼叫单位…",
  ringing: "单位电话振铃中（来电人在听等待音乐）",
  consulting: "单位已接听：您正与单位单独通话，来电人在等待",
  joined: "三方通话中：来电人、您和单位",
  seat_left: "您已退出，来电人与单位继续通话（仍在录音）",
  no_answer: "单位无人接听，来电人已回到您的通话",
  busy: "单位忙（占线），来电人已回到您的通话",
  failed: "呼叫失败（号码无法接通或线路故障），来电人已回到您的通话",
  cancelled: "已取消，来电人已回到您的通话",
};
const TW_ENDED = {completed: "三方通话已结束", unit_left: "单位已挂断，来电人已回到您的通话",
                  citizen_left: "来电人已挂断，三方通话结束"};
const twAttempts = {};    // call id -> that call's three-way attempts, oldest first
const unitCache = {};     // unit id -> the unit (from the directory), for its other numbers
const unitAsked = new Set();  // units fetched one by one (an attempt's unit not in the last search)
let twCall = null;        // the call the panel is set up for
let twUnit = null;        // the unit chosen in the directory
let twSearchTimer = null;
let twSearches = 0;       // the latest search's number: an older answer arriving late is dropped
let twSending = false;    // a three-way request or command on its way: the buttons wait (no double click)

const digits = (n) => String(n || "").replace(/\D/g, "");
function twText(a) {
  if (a.state === "ended") return TW_ENDED[a.outcome] || "三方通话已结束";
  return TW_TEXT[a.state] || a.state;
}
function twKind(a) {
  if (TW_FAILED.has(a.state)) return "failed";
  if (a.state === "joined") return "joined";
  return a.live ? "live" : "done";
}
export function takeAttempt(a) {
  // the POST's answer and the websocket's messages may cross: an attempt never goes back to an earlier state
  if (!a || !a.attempt_id || a.seat !== state.seatNo) return;
  const list = twAttempts[a.call_id] || (twAttempts[a.call_id] = []);
  const i = list.findIndex(x => x.attempt_id === a.attempt_id);
  const rank = (x) => (x.live ? TW_RANK[x.state] ?? 0 : 9);
  if (i < 0) list.push(a);
  else if (rank(a) >= rank(list[i])) list[i] = a;
}
function nextNumber(a) {
  // the unit's number after the one just dialled (units have several), if it has one
  const unit = a && a.unit_id != null ? unitCache[a.unit_id] : null;
  if (!unit) return null;
  const tried = digits(a.number), i = unit.phones.findIndex(p => digits(p) === tried);
  return i >= 0 ? unit.phones[i + 1] || null : unit.phones.find(p => digits(p) !== tried) || null;
}

async function searchUnits() {
  const params = new URLSearchParams();
  const q = $("tw-search").value.trim();
  const category = $("tw-by-category").checked ? $("t-category").value : "";
  if (q) params.set("q", q);
  if (category) params.set("category", category);
  const mine = ++twSearches;
  let found;
  try {
    found = (await api("GET", `/api/units?${params}`, null, "查找承办单位")).units;
  } catch (e) { showError(e); return; }
  if (mine !== twSearches) return;  // typed on meanwhile: a newer search has answered or will
  for (const u of found) unitCache[u.id] = u;
  const shown = found.slice(0, 8);
  const where = category ? `（分类「${category}」）` : "";
  $("tw-found").textContent = found.length === 0 ? `没有匹配的单位${where}` :
    `找到 ${found.length} 个单位${where}${found.length > shown.length ? `，显示前 ${shown.length} 个，请输入关键字` : ""}`;
  const list = $("tw-units");
  list.replaceChildren();
  for (const u of shown) {
    const li = document.createElement("li");
    li.dataset.unit = String(u.id);
    li.append(text("strong", "name", u.name), text("span", "meta", u.area),
              text("span", "meta", (u.topics || []).join("、")), text("span", "meta", u.phones.join(" / ")),
              text("span", "meta", u.hours || ""));
    li.onclick = () => chooseUnit(u);
    list.append(li);
  }
  renderTw();
}
function searchSoon() { clearTimeout(twSearchTimer); twSearchTimer = setTimeout(searchUnits, 250); }
function chooseUnit(u) {
  twUnit = u; $("tw-number").value = "";
  const select = $("tw-phone");
  select.replaceChildren();
  for (const p of u.phones) option(select, p, p);
  renderTw();
}
$("tw-search").oninput = searchSoon;
$("tw-by-category").onchange = searchUnits;
$("t-category").addEventListener("change", () => { if (!$("tw").hidden) searchUnits(); });
$("tw-number").oninput = () => {
  if ($("tw-number").value.trim() && twUnit) { twUnit = null; $("tw-phone").replaceChildren(); }
  renderTw();
};

async function twSend(path, body, label) {
  clearError();
  twSending = true; renderTw();
  try {
    const r = await api("POST", `/api/seats/${encodeURIComponent(state.seatNo)}/threeway${path}`, body, label);
    takeAttempt(r.attempt);
  } catch (e) { showError(e); }
  twSending = false; renderTw();
}
const startThreeway = (body) => twSend("", body, "三方通话");
$("threeway").onclick = () => {
  const consult = $("tw-consult").checked;
  const number = $("tw-number").value.trim();
  if (twUnit) startThreeway({unit_id: twUnit.id, number: $("tw-phone").value || undefined, consult});
  else if (number) startThreeway({number, consult});
  else showError({action: "三方通话", message: "请先在上面选择承办单位，或输入要拨打的号码"});
};
$("tw-next").onclick = () => {
  const list = twAttempts[twCall] || [], last = list[list.length - 1], next = nextNumber(last);
  if (next) startThreeway({unit_id: last.unit_id, number: next, consult: $("tw-consult").checked});
};
$("tw-cancel").onclick = () => twSend("/cancel", null, "取消三方通话");
$("tw-join").onclick = () => twSend("/join", null, "加入三方");
$("tw-leave").onclick = () => twSend("/leave", null, "退出三方");

export function renderTw() {
  const box = $("tw"), pop = state.pop, seat = state.seat;
  box.hidden = !pop;
  if (!pop) return;
  if (twCall !== pop.call_id) {  // a new call: a fresh choice
    twCall = pop.call_id; twUnit = null;
    $("tw-search").value = ""; $("tw-number").value = ""; $("tw-phone").replaceChildren();
    $("tw-units").replaceChildren(); $("tw-found").textContent = "";
    searchSoon();  // the directory, narrowed by the ticket's category once one is chosen
  }
  const list = twAttempts[pop.call_id] || [];
  const a = list.length ? list[list.length - 1] : null;
  const st = a ? a.state : "";
  const onCall = pop.state === "answered" && seat && seat.state === "talking" && !(a && a.seat_left_at);
  const busy = a !== null && a.live;
  for (const li of $("tw-units").children) li.classList.toggle("chosen", !!twUnit && li.dataset.unit === String(twUnit.id));
  $("tw-call").textContent = onCall ? "" : "（需在通话中）";
  $("threeway").disabled = !onCall || busy || twSending;
  for (const id of ["tw-cancel", "tw-join", "tw-leave", "tw-next"]) $(id).disabled = twSending;
  $("tw-cancel").hidden = !["requested", "ringing", "consulting"].includes(st);
  $("tw-join").hidden = st !== "consulting";
  $("tw-leave").hidden = st !== "joined";
  const status = $("tw-status");
  status.dataset.state = st; status.dataset.kind = a ? twKind(a) : "";
  status.textContent = a ? `${a.unit_name || "号码"} ${a.number}：${twText(a)}` : "";
  const next = $("tw-next");
  next.hidden = true;
  if (a && TW_FAILED.has(st) && onCall) {
    if (a.unit_id != null && !unitCache[a.unit_id] && !unitAsked.has(a.unit_id)) {  // after a reload
      unitAsked.add(a.unit_id);
      api("GET", `/api/units/${a.unit_id}`, null, "读取承办单位")
        .then(u => { unitCache[u.id] = u; renderTw(); }).catch(showError);
    }
    const number = nextNumber(a);
    if (number) { next.hidden = false; next.textContent = `拨打该单位下一个号码 ${number}`; next.dataset.number = digits(number); }
    else if (a.unit_id != null && unitCache[a.unit_id]) status.textContent += "（该单位没有其他号码）";
  }
  const done = $("tw-attempts");
  done.replaceChildren();
  for (const x of list) {
    const li = text("li", "", `${new Date(x.requested_at).toLocaleTimeString("zh-CN")} ${x.unit_name || ""} ${x.number}：${twText(x)}`);
    li.dataset.attempt = x.attempt_id; li.dataset.state = x.state;
    done.append(li);
  }
}

export async function loadThreeway(no) {
  // after a (re)connect: the seat's current three-way attempt, if any (a reload mid-way shows it again)
  try {
    const r = await api("GET", `/api/seats/${encodeURIComponent(no)}/threeway`, null, "读取三方通话");
    for (const a of r.attempts || []) takeAttempt(a);
    takeAttempt(r.attempt);
    renderTw();
  } catch (e) { showError(e); }
}
