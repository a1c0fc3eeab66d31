// DOM helpers shared by the three pages: index.html (main.ts),
// workbench.html (src/workbench/page.ts) and bench.html (bench/page.ts).

export const byId = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

/** An error's message, or the thrown value as text. */
export const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/** Shows `what: message` in the page's error box, and the error itself in the console. */
export function showErrorIn(box: HTMLElement, what: string, error: unknown): void {
  console.error(error);
  box.textContent = `${what}: ${messageOf(error)}`;
  box.hidden = false;
}

/** Saves `data` as a file called `name`, through a link's click. */
export function download(data: Uint8Array | string, name: string, type: string): void {
  const url = URL.createObjectURL(new Blob([data as Uint8Array<ArrayBuffer> | string], { type }));
  const link = document.createElement('a');
  link.href = url;
  link.download = name;
  link.click();
  // The download has its own copy long before then.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
