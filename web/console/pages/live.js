// The live page.
export async function render(main, params, ctx) {
  const h = document.createElement('h1');
  h.textContent = 'live';
  main.append(h);
}
