// Keyboard first (issue 23): every call and ticket action on an Alt chord, so it works while typing in the ticket
// form too; "?" (outside a text field) or F1 opens the list, Esc closes it. A chord does what a click on the
// button does, and only when that button can be clicked now (shown, enabled): the page's rules stay the buttons'.
// Each button shows its chord (data-key, drawn by CSS after its text; aria-keyshortcuts for screen readers).
import { $ } from "./dom.js";

// chord letter -> [the button, what it does] (the help list's order)
export const KEYS = [
  ["H", "hangup", "挂断"],
  ["S", "t-save", "保存工单"],
  ["N", "t-content", "写诉求内容（光标到诉求内容）"],
  ["T", "tw-search", "三方通话：找承办单位"],
  ["D", "threeway", "三方通话：拨打"],
  ["J", "tw-join", "加入三方"],
  ["L", "tw-leave", "退出三方"],
  ["C", "tw-cancel", "取消三方"],
  ["B", "cb-save", "保存回访结果"],
  ["P", "pause", "暂停"],
  ["R", "resume", "恢复"],
];
const BY_KEY = new Map(KEYS.map(([key, id]) => [key, id]));

function usable(el) {
  return el !== null && !el.disabled && el.offsetParent !== null;  // offsetParent: null when it or a parent is hidden
}

function typing(target) {
  return target instanceof HTMLElement && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
}

/** What a chord does: click a button, or put the cursor in a field. Returns whether it did anything. */
export function perform(key) {
  const el = $(BY_KEY.get(key) || "");
  if (!usable(el)) return false;
  if (el.tagName === "BUTTON") el.click(); else el.focus();
  return true;
}

function showHelp(open) {
  $("keys-help").hidden = !open;
  if (open) $("keys-help-close").focus();
}

function fillHelp() {
  const list = $("keys-list");
  for (const [key, , what] of KEYS) {
    const row = document.createElement("li");
    const kbd = document.createElement("kbd"); kbd.textContent = `Alt+${key}`;
    row.append(kbd, ` ${what}`);
    list.append(row);
  }
}

function mark() {
  for (const [key, id] of KEYS) {
    const el = $(id);
    if (el === null) continue;
    el.setAttribute("aria-keyshortcuts", `Alt+${key}`);
    if (el.tagName === "BUTTON") el.dataset.key = `Alt+${key}`;
  }
}

document.addEventListener("keydown", (e) => {
  if (e.key === "Escape" && !$("keys-help").hidden) { showHelp(false); e.preventDefault(); return; }
  if (e.key === "F1" || (e.key === "?" && !typing(e.target))) { showHelp($("keys-help").hidden); e.preventDefault(); return; }
  if (!e.altKey || e.ctrlKey || e.metaKey || e.repeat) return;  // a held chord acts once (no second ticket)
  const key = (e.code.startsWith("Key") ? e.code.slice(3) : e.key).toUpperCase();  // Alt+letter on any layout
  if (BY_KEY.has(key) && perform(key)) e.preventDefault();
});

/** When a call is answered, the cursor goes to the ticket's content (unless the seat is typing somewhere). */
export function focusTicket() {
  const content = $("t-content");
  if (usable(content) && !typing(document.activeElement)) content.focus();
}

$("keys-help-close").onclick = () => showHelp(false);
$("keys-open").onclick = () => showHelp(true);
fillHelp();
mark();
