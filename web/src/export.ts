// Every chart's data leaves the page as CSV and its picture as SVG or PNG, made in the browser from
// what is on screen (no second request): the CSV is the chart's rows, the SVG the chart itself
// (legend and plot stacked in one file, Plot's own styles inline), the PNG that SVG rasterised at 2×.

export type Row = Record<string, string | number | null>;

function csvField(value: string | number | null | undefined): string {
  if (value === null || value === undefined) return '';
  const text = typeof value === 'number' ? String(value) : value;
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** RFC 4180 CSV with a header line; numbers at full precision, nulls empty. */
export function toCsv(columns: string[], rows: Row[]): string {
  const lines = [columns.map(csvField).join(',')];
  for (const row of rows) lines.push(columns.map((column) => csvField(row[column])).join(','));
  return `${lines.join('\r\n')}\r\n`;
}

export function download(filename: string, blob: Blob): void {
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** The chart's SVGs (a legend, the plot) stacked into one standalone SVG document. */
export function standaloneSvg(container: Element): { text: string; width: number; height: number } {
  const parts = [...container.querySelectorAll('svg')].filter((svg) => !svg.parentElement?.closest('svg'));
  if (parts.length === 0) throw new Error('This chart has nothing drawn to export.');
  let y = 0;
  let width = 0;
  const children: string[] = [];
  for (const part of parts) {
    const box = part.getBoundingClientRect();
    const w = Math.ceil(box.width || Number(part.getAttribute('width')) || 0);
    const h = Math.ceil(box.height || Number(part.getAttribute('height')) || 0);
    const clone = part.cloneNode(true) as SVGSVGElement;
    clone.setAttribute('x', '0');
    clone.setAttribute('y', String(y));
    clone.setAttribute('width', String(w));
    clone.setAttribute('height', String(h));
    if (!clone.getAttribute('viewBox')) clone.setAttribute('viewBox', `0 0 ${w} ${h}`);
    children.push(new XMLSerializer().serializeToString(clone));
    y += h + 8;
    width = Math.max(width, w);
  }
  const height = Math.max(1, y - 8);
  const text =
    `<?xml version="1.0" encoding="UTF-8"?>\n` +
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ` +
    `font-family="system-ui, sans-serif" font-size="10"><rect width="100%" height="100%" fill="white"/>${children.join('')}</svg>`;
  return { text, width, height };
}

/** The standalone SVG drawn onto a canvas at `scale` and encoded as PNG. */
export async function svgToPng(svg: { text: string; width: number; height: number }, scale = 2): Promise<Blob> {
  const url = URL.createObjectURL(new Blob([svg.text], { type: 'image/svg+xml' }));
  try {
    const image = new Image();
    image.decoding = 'sync';
    await new Promise<void>((resolve, reject) => {
      image.onload = () => resolve();
      image.onerror = () => reject(new Error('The chart could not be rasterised.'));
      image.src = url;
    });
    const canvas = document.createElement('canvas');
    canvas.width = Math.ceil(svg.width * scale);
    canvas.height = Math.ceil(svg.height * scale);
    const context = canvas.getContext('2d')!;
    context.scale(scale, scale);
    context.drawImage(image, 0, 0, svg.width, svg.height);
    return await new Promise<Blob>((resolve, reject) =>
      canvas.toBlob((blob) => (blob ? resolve(blob) : reject(new Error('The PNG could not be encoded.'))), 'image/png'),
    );
  } finally {
    URL.revokeObjectURL(url);
  }
}
