// Ruby's Marshal format, version 4.8 (what `Marshal.dump` writes since Ruby 1.8): the full index
// (specs.4.8.gz, quick/Marshal.4.8/*.gemspec.rz) and the dependency API are Marshal documents.
// Only the subset RubyGems indexes use: nil, true, false, Integer, Float, String (UTF-8 or binary), Symbol,
// Array, Hash, plain objects ('o'), user-marshalled objects ('U', marshal_dump) and user-defined ones
// ('u', _dump). The writer never emits object links ('@'): Ruby loads repeated objects as copies, which is
// all these documents need. Symbols are written once and linked afterwards (';'), as Ruby does.

/** A Ruby Symbol. */
export class RSymbol {
  constructor(readonly name: string) {}
}
/** A Ruby Hash, entries in order (keys may be any value). */
export class RHash {
  constructor(readonly entries: [RValue, RValue][]) {}
  get(key: RValue): RValue | undefined {
    for (const [k, v] of this.entries) if (sameKey(k, key)) return v;
    return undefined;
  }
}
/** An object of class `cls` with instance variables (names without the '@'). */
export class RObject {
  constructor(readonly cls: string, readonly ivars: [string, RValue][]) {}
  ivar(name: string): RValue | undefined {
    return this.ivars.find(([n]) => n === name)?.[1];
  }
}
/** An object whose class defines marshal_dump/marshal_load ('U'): the class and the dumped value. */
export class RUserMarshal {
  constructor(readonly cls: string, readonly data: RValue) {}
}
/** An object whose class defines _dump/_load ('u'): the class and the dumped bytes. */
export class RUserDefined {
  constructor(readonly cls: string, readonly bytes: Buffer) {}
}
/** A Float (numbers without this wrapper are Integers). */
export class RFloat {
  constructor(readonly value: number) {}
}

/**
 * A Ruby value: JS strings are UTF-8 Strings, Buffers are binary (ASCII-8BIT) Strings, numbers are Integers
 * (safe integers only), bigint for Integers of any size.
 */
export type RValue = null | boolean | number | bigint | string | Buffer | RSymbol | RFloat | RValue[] | RHash | RObject | RUserMarshal | RUserDefined;

export const sym = (name: string) => new RSymbol(name);

function sameKey(a: RValue, b: RValue): boolean {
  if (a instanceof RSymbol && b instanceof RSymbol) return a.name === b.name;
  if (Buffer.isBuffer(a) && Buffer.isBuffer(b)) return a.equals(b);
  return a === b;
}

// ---- writing ------------------------------------------------------------------------------------------------

class Writer {
  /** One growing buffer: index documents hold tens of thousands of small values. */
  private buf = Buffer.allocUnsafe(64 * 1024);
  private len = 0;
  private readonly symbols = new Map<string, number>();

  private ensure(n: number) {
    if (this.len + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + n));
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }

  bytes(b: Buffer | number[]) {
    this.ensure(b.length);
    if (Buffer.isBuffer(b)) b.copy(this.buf, this.len);
    else for (let i = 0; i < b.length; i++) this.buf[this.len + i] = b[i];
    this.len += b.length;
  }

  byte(n: number) {
    this.ensure(1);
    this.buf[this.len++] = n;
  }

  /** A length-prefixed UTF-8 string, written in place. */
  utf8(s: string) {
    const n = Buffer.byteLength(s, 'utf8');
    this.long(n);
    this.ensure(n);
    this.buf.write(s, this.len, 'utf8');
    this.len += n;
  }

  /** Marshal's variable-length integer (w_long): -123..122 in one byte, else 1–4 little-endian bytes after a length. */
  long(n: number) {
    if (!Number.isInteger(n) || n < -(2 ** 30) || n >= 2 ** 30) throw new RangeError(`marshal: ${n} does not fit a fixnum`);
    if (n === 0) return this.byte(0);
    if (n > 0 && n < 123) return this.byte(n + 5);
    if (n < 0 && n > -124) return this.byte((n - 5) & 0xff);
    const out: number[] = [];
    let x = n;
    for (let i = 0; i < 4; i++) {
      out.push(x & 0xff);
      x >>= 8;
      if ((n >= 0 && x === 0) || (n < 0 && x === -1)) break;
    }
    this.byte(n >= 0 ? out.length : (256 - out.length) & 0xff);
    this.bytes(out);
  }

  rawString(b: Buffer) {
    this.long(b.length);
    this.bytes(b);
  }

  symbol(name: string) {
    const idx = this.symbols.get(name);
    if (idx !== undefined) {
      this.byte(0x3b); // ';'
      this.long(idx);
      return;
    }
    this.symbols.set(name, this.symbols.size);
    this.byte(0x3a); // ':'
    this.utf8(name);
  }

  integer(n: number | bigint) {
    if (typeof n === 'number' && n >= -(2 ** 30) && n < 2 ** 30) {
      this.byte(0x69); // 'i'
      this.long(n);
      return;
    }
    // Bignum: sign, length in 16-bit words, magnitude little-endian.
    let mag = BigInt(n);
    const negative = mag < 0n;
    if (negative) mag = -mag;
    const out: number[] = [];
    while (mag > 0n) {
      out.push(Number(mag & 0xffn));
      mag >>= 8n;
    }
    if (out.length % 2) out.push(0);
    this.byte(0x6c); // 'l'
    this.byte(negative ? 0x2d : 0x2b);
    this.long(out.length / 2);
    this.bytes(out);
  }

  value(v: RValue): void {
    if (v === null) return this.byte(0x30); // '0'
    if (v === true) return this.byte(0x54); // 'T'
    if (v === false) return this.byte(0x46); // 'F'
    if (typeof v === 'number') {
      if (!Number.isSafeInteger(v)) throw new RangeError(`marshal: ${v} is not an integer (wrap floats in RFloat)`);
      return this.integer(v);
    }
    if (typeof v === 'bigint') return this.integer(v);
    if (typeof v === 'string') {
      // A UTF-8 String: 'I' + '"' + bytes + one ivar, E (the encoding is UTF-8) = true.
      this.byte(0x49);
      this.byte(0x22);
      this.utf8(v);
      this.long(1);
      this.symbol('E');
      this.byte(0x54);
      return;
    }
    if (Buffer.isBuffer(v)) {
      this.byte(0x22);
      this.rawString(v);
      return;
    }
    if (v instanceof RSymbol) return this.symbol(v.name);
    if (v instanceof RFloat) {
      const f = v.value;
      const text = Number.isNaN(f) ? 'nan' : f === Infinity ? 'inf' : f === -Infinity ? '-inf' : Object.is(f, -0) ? '-0' : String(f);
      this.byte(0x66); // 'f'
      this.rawString(Buffer.from(text, 'ascii'));
      return;
    }
    if (Array.isArray(v)) {
      this.byte(0x5b); // '['
      this.long(v.length);
      for (const x of v) this.value(x);
      return;
    }
    if (v instanceof RHash) {
      this.byte(0x7b); // '{'
      this.long(v.entries.length);
      for (const [k, x] of v.entries) {
        this.value(k);
        this.value(x);
      }
      return;
    }
    if (v instanceof RObject) {
      this.byte(0x6f); // 'o'
      this.symbol(v.cls);
      this.long(v.ivars.length);
      for (const [name, x] of v.ivars) {
        this.symbol(`@${name}`);
        this.value(x);
      }
      return;
    }
    if (v instanceof RUserMarshal) {
      this.byte(0x55); // 'U'
      this.symbol(v.cls);
      this.value(v.data);
      return;
    }
    if (v instanceof RUserDefined) {
      this.byte(0x75); // 'u'
      this.symbol(v.cls);
      this.rawString(v.bytes);
      return;
    }
    throw new TypeError('marshal: unsupported value');
  }

  result(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.len));
  }
}

/** `Marshal.dump(value)`. */
export function dump(value: RValue): Buffer {
  const w = new Writer();
  w.bytes([4, 8]);
  w.value(value);
  return w.result();
}

// ---- reading ------------------------------------------------------------------------------------------------

export interface LoadLimits {
  /** Deepest nesting accepted (a hostile document must not overflow the stack). */
  maxDepth: number;
  /** Most elements in one array or hash. */
  maxLength: number;
}

const DEFAULT_LOAD_LIMITS: LoadLimits = { maxDepth: 64, maxLength: 1_000_000 };

class Reader {
  private pos = 2;
  private readonly symbols: string[] = [];
  private readonly objects: RValue[] = [];

  constructor(private readonly buf: Buffer, private readonly limits: LoadLimits) {
    if (buf.length < 2 || buf[0] !== 4 || buf[1] !== 8) throw new Error('marshal: not a Marshal 4.8 document');
  }

  done(): boolean {
    return this.pos === this.buf.length;
  }

  private byte(): number {
    if (this.pos >= this.buf.length) throw new Error('marshal: truncated document');
    return this.buf[this.pos++];
  }

  private take(n: number): Buffer {
    if (n < 0 || this.pos + n > this.buf.length) throw new Error('marshal: truncated document');
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }

  long(): number {
    const c = (this.byte() << 24) >> 24; // signed
    if (c === 0) return 0;
    if (c >= 5) return c - 5;
    if (c <= -5) return c + 5;
    if (c > 0) {
      let x = 0;
      for (let i = 0; i < c; i++) x += this.byte() * 2 ** (8 * i);
      return x;
    }
    let x = -1;
    for (let i = 0; i < -c; i++) {
      x &= ~(0xff << (8 * i));
      x |= this.byte() << (8 * i);
    }
    return x;
  }

  private length(): number {
    const n = this.long();
    if (n < 0 || n > this.limits.maxLength) throw new Error(`marshal: bad length ${n}`);
    return n;
  }

  private rawString(): Buffer {
    return Buffer.from(this.take(this.length()));
  }

  private symbol(): string {
    const t = this.byte();
    if (t === 0x3a) {
      const name = this.rawString().toString('utf8');
      this.symbols.push(name);
      return name;
    }
    if (t === 0x3b) {
      const i = this.long();
      if (i < 0 || i >= this.symbols.length) throw new Error('marshal: bad symbol link');
      return this.symbols[i];
    }
    if (t === 0x49) {
      // A symbol with an encoding ivar.
      const name = this.symbol();
      const n = this.length();
      for (let i = 0; i < n; i++) {
        this.symbol();
        this.value(1);
      }
      return name;
    }
    throw new Error(`marshal: expected a symbol, found 0x${t.toString(16)}`);
  }

  private register<T extends RValue>(v: T): T {
    this.objects.push(v);
    return v;
  }

  value(depth = 0): RValue {
    if (depth > this.limits.maxDepth) throw new Error('marshal: document nested too deeply');
    const t = this.byte();
    switch (t) {
      case 0x30: return null;
      case 0x54: return true;
      case 0x46: return false;
      case 0x69: return this.long();
      case 0x3a: case 0x3b: {
        this.pos -= 1;
        return new RSymbol(this.symbol());
      }
      case 0x6c: {
        const sign = this.byte();
        const words = this.length();
        const b = this.take(words * 2);
        let n = 0n;
        for (let i = b.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(b[i]);
        if (sign === 0x2d) n = -n;
        const v = n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n;
        return this.register(v);
      }
      case 0x66: {
        const s = this.rawString().toString('ascii');
        const f = s === 'nan' ? NaN : s === 'inf' ? Infinity : s === '-inf' ? -Infinity : Number(s);
        return this.register(new RFloat(f));
      }
      case 0x22: return this.register(this.rawString());
      case 0x49: {
        // An object with ivars; for Strings, E/encoding say how to read the bytes.
        const idx = this.objects.length;
        let v = this.value(depth + 1);
        const n = this.length();
        let text = false;
        for (let i = 0; i < n; i++) {
          const name = this.symbol();
          const x = this.value(depth + 1);
          if ((name === 'E' && x === true) || (name === 'encoding' && Buffer.isBuffer(x))) text = true;
        }
        if (text && Buffer.isBuffer(v)) {
          v = v.toString('utf8');
          this.objects[idx] = v;
        }
        return v;
      }
      case 0x5b: {
        const n = this.length();
        const arr = this.register([] as RValue[]);
        for (let i = 0; i < n; i++) arr.push(this.value(depth + 1));
        return arr;
      }
      case 0x7b: case 0x7d: {
        const n = this.length();
        const h = this.register(new RHash([]));
        for (let i = 0; i < n; i++) {
          const k = this.value(depth + 1);
          h.entries.push([k, this.value(depth + 1)]);
        }
        if (t === 0x7d) this.value(depth + 1); // default value, ignored
        return h;
      }
      case 0x6f: {
        const cls = this.symbol();
        const o = this.register(new RObject(cls, []));
        const n = this.length();
        for (let i = 0; i < n; i++) {
          const name = this.symbol();
          o.ivars.push([name.replace(/^@/, ''), this.value(depth + 1)]);
        }
        return o;
      }
      case 0x55: {
        const cls = this.symbol();
        const idx = this.objects.length;
        this.objects.push(null);
        const v = new RUserMarshal(cls, this.value(depth + 1));
        this.objects[idx] = v;
        return v;
      }
      case 0x75: {
        const cls = this.symbol();
        return this.register(new RUserDefined(cls, this.rawString()));
      }
      case 0x40: {
        const i = this.long();
        if (i < 0 || i >= this.objects.length) throw new Error('marshal: bad object link');
        return this.objects[i];
      }
      default:
        throw new Error(`marshal: unsupported type byte 0x${t.toString(16)}`);
    }
  }
}

/** `Marshal.load(bytes)`, for the subset above; throws on anything else or on trailing bytes. */
export function load(bytes: Buffer, limits: LoadLimits = DEFAULT_LOAD_LIMITS): RValue {
  const r = new Reader(bytes, limits);
  const v = r.value();
  if (!r.done()) throw new Error('marshal: trailing bytes after the document');
  return v;
}
