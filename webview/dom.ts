/** A tiny element builder: no innerHTML anywhere, so no label or file name can inject markup. */

type Child = Node | string | null | undefined | false;

/** Creates an element with attributes (strings; `true` for boolean attributes) and children. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Record<string, string | boolean | undefined>, ...children: Child[]): HTMLElementTagNameMap[K];
export function h(tag: string, attrs?: Record<string, string | boolean | undefined>, ...children: Child[]): HTMLElement;
export function h(tag: string, attrs: Record<string, string | boolean | undefined> = {}, ...children: Child[]): HTMLElement {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === 'string' ? document.createTextNode(c) : c);
  }
  return el;
}

/** Replaces all children of an element. */
export function setChildren(el: Element, ...children: Child[]): void {
  el.replaceChildren(...children.filter((c): c is Node | string => c !== null && c !== undefined && c !== false));
}

/** Finds a required element by id. */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`missing #${id}`);
  return el as T;
}

/** An option of a select; the description shows in the open dropdown. */
export interface SelectOption { value: string; label: string; description?: string }

/** `<vscode-option>` elements; `value` selected. */
export function options(list: readonly SelectOption[], value: string): HTMLElement[] {
  return list.map((o) => h('vscode-option', { value: o.value, selected: o.value === value, description: o.description }, o.label));
}

/** A `<vscode-single-select>` with options; `value` selected. */
export function select(id: string, list: readonly SelectOption[], value: string, label: string): HTMLElement {
  const sel = h('vscode-single-select', { id, 'aria-label': label });
  sel.append(...options(list, value));
  return sel;
}

/** Sets a select's value only when it differs (setting it re-renders the component). */
export function setSelectValue(el: HTMLElement, value: string): void {
  const s = el as HTMLElement & { value: string };
  if (s.value !== value) s.value = value;
}
