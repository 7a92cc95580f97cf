// The webhooks page.
export async function render(main, params, ctx) {
  const h = document.createElement('h1');
  h.textContent = 'webhooks';
  main.append(h);
}
