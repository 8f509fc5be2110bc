import { html, type Html } from './html.js';

const WIDTH = 96;
const HEIGHT = 20;

/**
 * Changes per time slot as a small bar chart in inline SVG (no script, no image request), oldest
 * slot on the left. Bars are scaled to the busiest slot; a slot with any change gets at least one
 * pixel, so a single change among thousands still shows.
 */
export function sparkline(counts: readonly number[], label: string): Html {
  const slot = WIDTH / Math.max(1, counts.length);
  const peak = Math.max(0, ...counts);
  const bars = counts.map((count, index) => {
    if (count <= 0 || peak === 0) return html``;
    const height = Math.max(1, Math.round((count / peak) * HEIGHT));
    const x = (index * slot).toFixed(1);
    const width = Math.max(1, slot - 1).toFixed(1);
    return html`<rect x="${x}" y="${HEIGHT - height}" width="${width}" height="${height}"><title>${count}</title></rect>`;
  });
  return html`<svg class="spark" viewBox="0 0 ${WIDTH} ${HEIGHT}" width="${WIDTH}" height="${HEIGHT}" role="img" aria-label="${label}"><line x1="0" y1="${HEIGHT - 0.5}" x2="${WIDTH}" y2="${HEIGHT - 0.5}"></line>${bars}</svg>`;
}
