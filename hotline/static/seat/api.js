// The server's API with the seat's token, and errors: always shown, never swallowed.
import { $ } from "./dom.js";
import { state } from "./state.js";

export function showError(err) {
  const where = err.status ? `（${err.status}${err.code ? " " + err.code : ""}）` : "";
  $("error-text").textContent = `${err.action || "操作"}失败${where}：${err.message}`;
  $("error").hidden = false;
}
export function clearError() { $("error").hidden = true; $("error-text").textContent = ""; }
$("error-close").onclick = clearError;

export async function api(method, path, body, action) {
  let resp, text;
  try {
    const headers = body ? {"Content-Type": "application/json"} : {};
    if (state.token) headers.Authorization = `Bearer ${state.token}`;
    resp = await fetch(path, {method, headers, body: body ? JSON.stringify(body) : undefined});
    text = await resp.text();
  } catch (e) {
    throw Object.assign(new Error(`无法连接服务器：${e.message}`), {action});
  }
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
  if (!resp.ok) {
    const message = data && data.message ? data.message : (text || resp.statusText);
    throw Object.assign(new Error(message), {action, status: resp.status, code: data && data.error});
  }
  return data;
}
