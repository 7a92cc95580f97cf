// The signin page.
export async function render(main, params, ctx) {
  const h = document.createElement('h1');
  h.textContent = 'signin';
  main.append(h);
}
