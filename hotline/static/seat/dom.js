// Small DOM helpers every part of the page uses.
export const $ = (id) => document.getElementById(id);

export function text(tag, cls, value) {
  const el = document.createElement(tag); el.className = cls; el.textContent = value; return el;
}

export function option(select, value, label) {
  const o = document.createElement("option"); o.value = value; o.textContent = label; select.append(o);
}
