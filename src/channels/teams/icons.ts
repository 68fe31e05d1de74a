/**
 * Latch's Teams app icons, drawn here rather than kept as binary files: a padlock, white on the
 * accent colour (192×192, "color") and white on transparent (32×32, "outline"), as Teams asks.
 * Encoded as 8-bit RGBA PNG with node's zlib.
 */
import { crc32, deflateSync } from 'node:zlib';

export const ACCENT = { r: 0x2e, g: 0x3a, b: 0x59 };

/** Is the point (in a 192-unit square) part of the padlock? */
function inPadlock(u: number, v: number): boolean {
  const body = u >= 52 && u <= 140 && v >= 86 && v <= 158;
  const keyhole =
    (u - 96) ** 2 + (v - 114) ** 2 <= 10 ** 2 || (Math.abs(u - 96) <= 4 && v >= 114 && v <= 136);
  const d = Math.sqrt((u - 96) ** 2 + (v - 86) ** 2);
  const shackle = v <= 86 && d >= 22 && d <= 34;
  const legs = v > 86 - 1 && v <= 92 && ((u >= 62 && u <= 74) || (u >= 118 && u <= 130));
  return (body && !keyhole) || shackle || legs;
}

/** The colour icon (192×192): white padlock on the accent colour, fully opaque. */
export function colorIcon(): Buffer {
  return png(192, (x, y) =>
    inPadlock(x + 0.5, y + 0.5) ? [255, 255, 255, 255] : [ACCENT.r, ACCENT.g, ACCENT.b, 255],
  );
}

/** The outline icon (32×32): white padlock on transparent; Teams refuses any other colour in it. */
export function outlineIcon(): Buffer {
  const scale = 192 / 32;
  return png(32, (x, y) =>
    inPadlock((x + 0.5) * scale, (y + 0.5) * scale) ? [255, 255, 255, 255] : [0, 0, 0, 0],
  );
}

function png(size: number, pixel: (x: number, y: number) => [number, number, number, number]): Buffer {
  const raw = Buffer.alloc(size * (1 + size * 4));
  for (let y = 0; y < size; y++) {
    const row = y * (1 + size * 4); // each row starts with its filter type, 0 (none)
    for (let x = 0; x < size; x++) Buffer.from(pixel(x, y)).copy(raw, row + 1 + x * 4);
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(size, 0);
  header.writeUInt32BE(size, 4);
  header.set([8, 6, 0, 0, 0], 8); // 8 bits per channel, RGBA, deflate, no filter method, no interlace
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

function chunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}
