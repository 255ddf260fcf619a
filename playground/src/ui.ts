/** Small DOM helpers shared by the panels. */

export const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

/** Shows each slider's value in its <output id="{id}-out"> and calls onChange when one moves. */
export function bindSliders(ids: readonly string[], onChange: () => void): void {
  for (const id of ids) {
    const input = $<HTMLInputElement>(id);
    const out = $(`${id}-out`);
    const sync = () => (out.textContent = input.value);
    input.addEventListener('input', () => {
      sync();
      onChange();
    });
    sync();
  }
}
