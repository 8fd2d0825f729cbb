import { afterEach, describe, expect, it } from 'vitest';
import {
  countCodePoints,
  encodeInstruction,
  encodeInstructionBytes,
  type GuacamoleBatch,
  GuacamoleScanner,
  stringCodePoints,
} from '../../src/hotpath/index.ts';
import { ENGINES, guacdSample, rng } from '../helpers/hotpath.ts';

const BLOB = (() => {
  const r = rng(7);
  const raw = Buffer.alloc(48 * 1024);
  for (let i = 0; i < raw.length; i++) raw[i] = Math.floor(r() * 256);
  return raw.toString('base64'); // 65,536 characters
})();

const TEXTS: [string, string[]][] = [
  ['ascii', ['key', '65307', '1']],
  ['french', ['clipboard', 'Ça été très déjà vu, où est la fenêtre ? À bientôt, élève !']],
  ['german', ['clipboard', 'Müller Größe Übung']],
  ['japanese', ['clipboard', '国際・科学の記事一覧']],
  ['japanese kana', ['name', 'こんにちは、世界。カタカナとひらがな']],
  ['chinese', ['clipboard', '中华人民共和国成立于一九四九年，首都北京。']],
  ['emoji', ['clipboard', '😀👍🏽🇫🇷👨‍👩‍👧', '𝄞']],
  ['mixed', ['argv', 'a€😀é国ü\u0000;,.', '4.sy,', '']],
  ['empty elements', ['nop', '', '', '']],
  ['byte order mark kept', ['\ufeff', '\ufeffBOM first', 'x\ufeff']],
  ['digits and punctuation', ['size', '-1', '1024', '768', '96']],
  ['base64 blob 64 KiB', ['blob', '1', BLOB]],
];

interface Seen {
  instructions: string[][];
  error: string | undefined;
}

function scanAll(scanner: GuacamoleScanner, chunks: Uint8Array[], useReserve = false): Seen {
  const instructions: string[][] = [];
  let error: string | undefined;
  const take = (b: GuacamoleBatch) => {
    for (let i = 0; i < b.count; i++) {
      const els: string[] = [];
      for (let j = 0; j < b.elementCount(i); j++) els.push(b.element(i, j));
      instructions.push(els);
      expect(b.opcode(i)).toBe(els[0]);
      expect(b.opcodeIs(i, els[0]!)).toBe(true);
      expect(b.args(i)).toEqual(els.slice(1));
      expect(Buffer.from(b.instruction(i)).toString('utf8')).toBe(
        encodeInstruction(els[0]!, ...els.slice(1)),
      );
    }
    if (b.count > 0) expect(b.end(b.count - 1)).toBe(b.byteLength);
    if (b.error) error ??= b.error.code;
  };
  for (const c of chunks) {
    if (useReserve) {
      const view = scanner.reserve(c.length);
      view.set(c);
      take(scanner.commit(c.length));
    } else {
      take(scanner.push(c));
    }
  }
  return { instructions, error };
}

/** Cheap fingerprint of a scan: stream offsets of every instruction and element, and the error. */
function signature(scanner: GuacamoleScanner, chunks: Uint8Array[]): string {
  const parts: number[] = [];
  let base = 0;
  let error = '';
  for (const c of chunks) {
    const b = scanner.push(c);
    for (let i = 0; i < b.count; i++) {
      parts.push(base + b.start(i), base + b.end(i), b.elementCount(i));
      for (let j = 0; j < b.elementCount(i); j++)
        parts.push(base + b.elementStart(i, j), b.elementByteLength(i, j));
    }
    base += b.byteLength;
    if (b.error) error ||= b.error.code;
  }
  return `${parts.join(',')}|${error}`;
}

function splits(data: Uint8Array, points: number[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  let at = 0;
  for (const p of [...points].sort((a, b) => a - b)) {
    out.push(data.subarray(at, p));
    at = p;
  }
  out.push(data.subarray(at));
  return out;
}

describe('encodeInstruction', () => {
  it('prefixes every element with its code-point length', () => {
    expect(encodeInstruction('size', '1024', '768', '96')).toBe('4.size,4.1024,3.768,2.96;');
    expect(encodeInstruction('disconnect')).toBe('10.disconnect;');
    expect(encodeInstruction('log', 'connection closed normally')).toBe(
      '3.log,26.connection closed normally;',
    );
    expect(encodeInstruction('x', '😀')).toBe('1.x,1.😀;');
    expect(encodeInstruction('x', '国際・科学の記事一覧')).toBe('1.x,10.国際・科学の記事一覧;');
    expect(encodeInstruction('x', 'Müller Größe Übung')).toBe('1.x,18.Müller Größe Übung;');
    expect(encodeInstructionBytes('a', 'é').equals(Buffer.from('1.a,1.é;'))).toBe(true);
  });

  it('counts code points like [...s].length (pairs once, lone surrogates once)', () => {
    for (const s of ['', 'abc', '😀😀', '\ud800', '\udc00x', 'a\ud83d', '👨‍👩‍👧', BLOB.slice(0, 100)]) {
      expect(stringCodePoints(s)).toBe([...s].length);
    }
  });

  it('rejects more than 128 elements', () => {
    expect(() => encodeInstruction('x', ...Array.from({ length: 128 }, () => ''))).toThrow(/elements/);
    expect(encodeInstruction('x', ...Array.from({ length: 127 }, () => '')).length).toBeGreaterThan(0);
  });
});

describe.each(ENGINES)('GuacamoleScanner (%s)', (engine) => {
  const live: GuacamoleScanner[] = [];
  afterEach(() => {
    for (const s of live.splice(0)) s.dispose();
  });
  const make = (o: { strict?: boolean; maxInstructionBytes?: number } = {}) => {
    const s = new GuacamoleScanner({ engine, ...o });
    live.push(s);
    return s;
  };

  it(`runs on the ${engine} engine`, () => {
    expect(make().engine).toBe(engine);
  });

  it.each(TEXTS)('%s: scans whole and split at every offset', (_name, els) => {
    const wire = encodeInstructionBytes(els[0]!, ...els.slice(1));
    const want = { instructions: [els], error: undefined };
    expect(scanAll(make(), [wire])).toEqual(want);
    const step = wire.length > 4096 ? 997 : 1;
    for (let i = 0; i <= wire.length; i += step) {
      expect(scanAll(make(), splits(wire, [i]))).toEqual(want);
    }
    // byte by byte (small ones) through reserve/commit
    if (wire.length < 512) {
      expect(scanAll(make(), splits(wire, [...wire.keys()]), true)).toEqual(want);
    }
  });

  it('scans all vectors back to back, split at random points, via push and reserve/commit', () => {
    const wire = Buffer.concat(TEXTS.map(([, els]) => encodeInstructionBytes(els[0]!, ...els.slice(1))));
    const want = { instructions: TEXTS.map(([, els]) => els), error: undefined };
    const r = rng(3);
    for (let round = 0; round < 30; round++) {
      const pts = Array.from({ length: 1 + Math.floor(r() * 40) }, () => Math.floor(r() * wire.length));
      expect(scanAll(make(), splits(wire, pts), round % 2 === 0)).toEqual(want);
    }
  });

  it.each([
    ['guacd-sample.txt', 'S'],
    ['guacd-sample.txt', 'C'],
    ['guacd-sample-telnet.txt', 'S'],
    ['guacd-sample-telnet.txt', 'C'],
  ] as const)('real guacd sample %s (%s side) split at every offset', (file, side) => {
    const wire = guacdSample(file, side);
    const whole = scanAll(make(), [wire]);
    expect(whole.error).toBeUndefined();
    expect(whole.instructions.length).toBeGreaterThan(5);
    // the sample has one instruction per line
    expect(whole.instructions.map((i) => encodeInstruction(i[0]!, ...i.slice(1))).join('')).toBe(
      wire.toString('utf8'),
    );
    // every offset near instruction boundaries and in the first 4 KiB; every 97th inside long blob values
    const wholeSig = signature(make(), [wire]);
    const ends = new Set<number>();
    let at = 0;
    for (const i of whole.instructions) {
      at += Buffer.byteLength(encodeInstruction(i[0]!, ...i.slice(1)));
      for (let d = -8; d <= 8; d++) ends.add(at + d);
    }
    for (let i = 0; i <= wire.length; i++) {
      if (i < 4096 || ends.has(i) || i % 97 === 0) {
        const got = signature(make(), splits(wire, [i]));
        if (got !== wholeSig) expect(got, `split at ${i}`).toBe(wholeSig);
      }
    }
  });

  it('reports opcode and element boundaries as byte offsets', () => {
    const wire = Buffer.from('4.sync,3.123;1.é,2.éa;');
    const b = make().push(wire);
    expect(b.count).toBe(2);
    expect([b.start(0), b.end(0), b.start(1), b.end(1), b.byteLength]).toEqual([0, 13, 13, 24, 24]);
    expect([
      b.elementStart(0, 0),
      b.elementByteLength(0, 0),
      b.elementStart(0, 1),
      b.elementByteLength(0, 1),
    ]).toEqual([2, 4, 9, 3]);
    expect([b.elementStart(1, 1), b.elementByteLength(1, 1)]).toEqual([20, 3]);
    expect(b.opcodeIs(0, 'sync')).toBe(true);
    expect(b.opcodeIs(0, 'size')).toBe(false);
    expect(Buffer.from(b.bytes).equals(wire)).toBe(true);
  });

  const bad: [string, string, string][] = [
    ['overlong', '3.key,2.\xc0\x80;', 'TUBES_ERR_GUAC_INVALID_UTF8'],
    ['surrogate', '3.key,1.\xed\xa0\x80;', 'TUBES_ERR_GUAC_INVALID_UTF8'],
    ['above U+10FFFF', '3.key,1.\xf4\x90\x80\x80;', 'TUBES_ERR_GUAC_INVALID_UTF8'],
    ['byte 0xff', '3.key,1.\xff;', 'TUBES_ERR_GUAC_INVALID_UTF8'],
    ['stray continuation', '3.key,2.a\x80;', 'TUBES_ERR_GUAC_INVALID_UTF8'],
    ['truncated before delimiter', '3.key,1.\xe6\x97;', 'TUBES_ERR_GUAC_INVALID_UTF8'],
    ['letter as length', '3.key,a.b;', 'TUBES_ERR_GUAC_MALFORMED'],
    ['missing length', '3.key,.;', 'TUBES_ERR_GUAC_MALFORMED'],
    ['negative length', '-1.a;', 'TUBES_ERR_GUAC_MALFORMED'],
    ['wrong delimiter', '3.key.1.a;', 'TUBES_ERR_GUAC_MALFORMED'],
    ['length too short', '3.keyy;', 'TUBES_ERR_GUAC_MALFORMED'],
    ['8 digits', '3.key,00000001.a;', 'TUBES_ERR_GUAC_TOO_LARGE'],
    ['above 8 Mi code points', '3.key,8388609.', 'TUBES_ERR_GUAC_TOO_LARGE'],
    ['129 elements', `1.x${',0.'.repeat(128)};`, 'TUBES_ERR_GUAC_TOO_LARGE'],
  ];

  it.each(bad)('rejects %s with a typed error, after the instructions before it', (_n, body, code) => {
    const wire = Buffer.concat([Buffer.from('4.sync,1.1;'), Buffer.from(body, 'latin1')]);
    for (let i = 0; i <= wire.length; i++) {
      const s = make();
      const seen = scanAll(s, splits(wire, [i]));
      // a split can leave an incomplete error-free prefix pending: the error shows once the bad byte arrives
      expect(seen).toEqual({ instructions: [['sync', '1']], error: code });
      expect(s.failure?.code).toBe(code);
      expect(s.push(Buffer.from('4.sync;')).error?.code).toBe(code); // sticky
      s.reset();
      expect(scanAll(s, [Buffer.from('4.sync;')])).toEqual({ instructions: [['sync']], error: undefined });
    }
  });

  it('accepts exactly 128 elements, 7 digits and 8 Mi code points', () => {
    const many = `1.x${',0.'.repeat(127)};`;
    expect(scanAll(make(), [Buffer.from(many)]).instructions[0]).toHaveLength(128);
    const z = make().push(Buffer.from('0000003.abc;'));
    expect([z.count, z.opcode(0), z.error]).toEqual([1, 'abc', undefined]);
    const s = make();
    expect(s.push(Buffer.from('8388608.')).error).toBeUndefined();
  });

  it('rejects an instruction above maxInstructionBytes without buffering it', () => {
    const s = make({ maxInstructionBytes: 100 });
    expect(s.push(Buffer.from('4.sync;3.img,200.')).error?.code).toBe('TUBES_ERR_GUAC_TOO_LARGE');
    const s2 = make({ maxInstructionBytes: 100 });
    let err: string | undefined;
    for (let i = 0; i < 20 && !err; i++)
      err = s2.push(Buffer.from(i === 0 ? '4.blob' : ',1.a'.repeat(3))).error?.code;
    expect(err).toBe('TUBES_ERR_GUAC_TOO_LARGE');
    expect(s2.bufferedBytes).toBe(0);
    const exact = `4.blob,${'9'.repeat(2)}.${'a'.repeat(99 - 10)};`; // "4.blob,89." + 89 + ";" = 100 bytes
    expect(Buffer.byteLength(exact)).toBe(100);
    expect(
      scanAll(make({ maxInstructionBytes: 100 }), [Buffer.from(exact.replace('99', '89'))]).error,
    ).toBeUndefined();
  });

  it('strict: false counts code points without validating UTF-8', () => {
    const wire = Buffer.from('3.key,2.\xc3\x28\xa9;', 'latin1');
    expect(make().push(wire).error?.code).toBe('TUBES_ERR_GUAC_INVALID_UTF8');
    const b = make({ strict: false }).push(wire);
    expect(b.error).toBeUndefined();
    expect(b.count).toBe(1);
  });

  it('reserve() gives a writable view and commit() scans it; data may land in chunks', () => {
    const s = make();
    const wire = Buffer.from(
      encodeInstruction('clipboard', 'Müller Größe Übung') + encodeInstruction('sync', '1'),
    );
    const v1 = s.reserve(10);
    expect(v1.length).toBeGreaterThanOrEqual(10);
    v1.set(wire.subarray(0, 10));
    expect(s.commit(10).count).toBe(0);
    const v2 = s.reserve(wire.length);
    v2.set(wire.subarray(10));
    const b = s.commit(wire.length - 10);
    expect([b.count, b.opcode(0), b.opcode(1)]).toEqual([2, 'clipboard', 'sync']);
    expect(() => s.commit(1 << 30)).toThrow(/reserved/);
  });

  it('grows its buffer for a large instruction arriving in small chunks, and rescans sparingly', () => {
    const wire = encodeInstructionBytes('blob', '1', BLOB.repeat(4)); // 256 KiB
    const chunks = splits(
      wire,
      Array.from({ length: Math.ceil(wire.length / 1000) }, (_, i) => i * 1000),
    );
    expect(scanAll(make(), chunks)).toEqual({
      instructions: [['blob', '1', BLOB.repeat(4)]],
      error: undefined,
    });
    // Once the length prefixes are in, the scanner knows how many bytes the instruction needs and does not
    // rescan the buffer before they are there: a batch with scanned bytes (`data`) only for the first chunk
    // and the last, not one per chunk (263 chunks here; rescanning every push would be quadratic in the chunks).
    for (const useReserve of [false, true]) {
      const s = make();
      const scanned: number[] = [];
      chunks.forEach((c, i) => {
        let b: GuacamoleBatch;
        if (useReserve) {
          s.reserve(c.length).set(c);
          b = s.commit(c.length);
        } else {
          b = s.push(c);
        }
        if (b.data.length > 0) scanned.push(i);
      });
      const first = chunks.findIndex((c) => c.length > 0);
      expect(scanned, useReserve ? 'reserve/commit' : 'push').toEqual([first, chunks.length - 1]);
    }
  });
});

describe('countCodePoints', () => {
  it('counts code points of UTF-8 on every engine', () => {
    for (const [, els] of TEXTS) {
      const s = els.join('');
      expect(countCodePoints(Buffer.from(s))).toBe([...s].length);
    }
  });
});
