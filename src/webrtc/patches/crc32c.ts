/** CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), slice-by-16, as SCTP uses it (RFC 4960 Appendix B). */

const T = new Int32Array(16 * 256);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
  T[n] = c;
}
for (let n = 0; n < 256; n++) {
  for (let t = 1; t < 16; t++) {
    const prev = T[(t - 1) * 256 + n] as number;
    T[t * 256 + n] = (prev >>> 8) ^ (T[prev & 0xff] as number);
  }
}

/** CRC-32C of `data[start, end)`. */
export function crc32c(data: Uint8Array, start = 0, end = data.length): number {
  const t = T;
  let crc = -1;
  let i = start;
  for (; i + 16 <= end; i += 16) {
    crc ^=
      (data[i] as number) |
      ((data[i + 1] as number) << 8) |
      ((data[i + 2] as number) << 16) |
      ((data[i + 3] as number) << 24);
    crc =
      (t[3840 + (crc & 0xff)] as number) ^
      (t[3584 + ((crc >>> 8) & 0xff)] as number) ^
      (t[3328 + ((crc >>> 16) & 0xff)] as number) ^
      (t[3072 + (crc >>> 24)] as number) ^
      (t[2816 + (data[i + 4] as number)] as number) ^
      (t[2560 + (data[i + 5] as number)] as number) ^
      (t[2304 + (data[i + 6] as number)] as number) ^
      (t[2048 + (data[i + 7] as number)] as number) ^
      (t[1792 + (data[i + 8] as number)] as number) ^
      (t[1536 + (data[i + 9] as number)] as number) ^
      (t[1280 + (data[i + 10] as number)] as number) ^
      (t[1024 + (data[i + 11] as number)] as number) ^
      (t[768 + (data[i + 12] as number)] as number) ^
      (t[512 + (data[i + 13] as number)] as number) ^
      (t[256 + (data[i + 14] as number)] as number) ^
      (t[data[i + 15] as number] as number);
  }
  for (; i < end; i++) crc = (t[(crc ^ (data[i] as number)) & 0xff] as number) ^ (crc >>> 8);
  return ~crc >>> 0;
}
