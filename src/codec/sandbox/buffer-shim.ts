/**
 * A sandbox-realm `Buffer`, `TextEncoder` and `TextDecoder`.
 *
 * This function is NOT called in the host: its source text (`createBufferShim.toString()`) is
 * evaluated inside the codec's vm context. Exposing Node's own Buffer would hand user scripts
 * host-realm objects, and `Buffer.constructor.constructor('return process')()` reaches the host's
 * `process`. A Buffer written in the sandbox's own realm closes that door (as far as vm allows)
 * and makes byte helpers cheap (no cross-realm calls). It must not reference anything outside its
 * own body. It covers what codecs use: from/alloc/concat, toString for utf8/hex/base64/latin1,
 * read/write of 8/16/32-bit integers, floats, doubles and 64-bit BigInts.
 */
export function createBufferShim() {
  'use strict';
  const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  const B64_LOOKUP = new Int16Array(128).fill(-1);
  for (let i = 0; i < 64; i++) B64_LOOKUP[B64.charCodeAt(i)] = i;
  B64_LOOKUP['-'.charCodeAt(0)] = 62; // base64url alphabet is accepted on input, like Node
  B64_LOOKUP['_'.charCodeAt(0)] = 63;

  function base64ToBytes(text: string): number[] {
    const out: number[] = [];
    let acc = 0;
    let bits = 0;
    for (let i = 0; i < text.length; i++) {
      const code = text.charCodeAt(i);
      if (code === 61) break; // '=' padding ends the data
      const v = code < 128 ? B64_LOOKUP[code] : -1;
      if (v < 0) continue; // Node skips whitespace and stray characters
      acc = (acc << 6) | v;
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        out.push((acc >> bits) & 0xff);
      }
    }
    return out;
  }

  function bytesToBase64(bytes: ArrayLike<number>, url: boolean): string {
    let out = '';
    let i = 0;
    for (; i + 2 < bytes.length; i += 3) {
      const n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
      out += B64[(n >> 18) & 63] + B64[(n >> 12) & 63] + B64[(n >> 6) & 63] + B64[n & 63];
    }
    const rest = bytes.length - i;
    if (rest === 1) {
      const n = bytes[i] << 16;
      out += B64[(n >> 18) & 63] + B64[(n >> 12) & 63] + (url ? '' : '==');
    } else if (rest === 2) {
      const n = (bytes[i] << 16) | (bytes[i + 1] << 8);
      out += B64[(n >> 18) & 63] + B64[(n >> 12) & 63] + B64[(n >> 6) & 63] + (url ? '' : '=');
    }
    return url ? out.replace(/\+/g, '-').replace(/\//g, '_') : out;
  }

  function hexToBytes(text: string): number[] {
    const out: number[] = [];
    for (let i = 0; i + 1 < text.length; i += 2) {
      const v = parseInt(text.slice(i, i + 2), 16);
      if (Number.isNaN(v)) break; // Node stops at the first invalid pair
      out.push(v);
    }
    return out;
  }

  function bytesToHex(bytes: ArrayLike<number>): string {
    let out = '';
    for (let i = 0; i < bytes.length; i++) out += (bytes[i] < 16 ? '0' : '') + bytes[i].toString(16);
    return out;
  }

  function utf8Encode(text: string): number[] {
    const out: number[] = [];
    for (let i = 0; i < text.length; i++) {
      let c = text.charCodeAt(i);
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
        const d = text.charCodeAt(i + 1);
        if (d >= 0xdc00 && d <= 0xdfff) {
          c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
          i++;
        }
      }
      if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd; // lone surrogate
      if (c < 0x80) out.push(c);
      else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
      else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
      else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    }
    return out;
  }

  function utf8Decode(bytes: ArrayLike<number>): string {
    let out = '';
    let i = 0;
    while (i < bytes.length) {
      const b = bytes[i++];
      let c = 0xfffd;
      let need = 0;
      if (b < 0x80) c = b;
      else if (b >= 0xc2 && b < 0xe0) { c = b & 31; need = 1; }
      else if (b >= 0xe0 && b < 0xf0) { c = b & 15; need = 2; }
      else if (b >= 0xf0 && b < 0xf5) { c = b & 7; need = 3; }
      let ok = true;
      for (let k = 0; k < need; k++) {
        const n = bytes[i];
        if (n === undefined || (n & 0xc0) !== 0x80) { ok = false; break; }
        c = (c << 6) | (n & 63);
        i++;
      }
      if (!ok) c = 0xfffd;
      out += String.fromCodePoint(c);
    }
    return out;
  }

  function latin1Decode(bytes: ArrayLike<number>): string {
    let out = '';
    for (let i = 0; i < bytes.length; i++) out += String.fromCharCode(bytes[i]);
    return out;
  }

  function encodeString(text: string, encoding: string | undefined): number[] {
    switch (String(encoding || 'utf8').toLowerCase()) {
      case 'utf8': case 'utf-8': return utf8Encode(text);
      case 'hex': return hexToBytes(text);
      case 'base64': case 'base64url': return base64ToBytes(text);
      case 'latin1': case 'binary': case 'ascii': {
        const out: number[] = [];
        for (let i = 0; i < text.length; i++) out.push(text.charCodeAt(i) & 0xff);
        return out;
      }
      default: throw new TypeError('Unknown encoding: ' + encoding);
    }
  }

  function checkOffset(buf: Uint8Array, offset: number | undefined, size: number): number {
    const o = offset === undefined ? 0 : offset;
    if (typeof o !== 'number' || !Number.isInteger(o) || o < 0 || o + size > buf.length) {
      throw new RangeError('The value of "offset" is out of range. It must be >= 0 and <= ' + (buf.length - size) + '. Received ' + String(offset));
    }
    return o;
  }

  function checkValue(value: number, min: number, max: number): void {
    if (typeof value !== 'number' || value < min || value > max || Number.isNaN(value)) {
      throw new RangeError('The value of "value" is out of range. It must be >= ' + min + ' and <= ' + max + '. Received ' + String(value));
    }
  }

  function view(buf: Uint8Array): DataView {
    return new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  class Buffer extends Uint8Array {
    static override from(value: unknown, encodingOrOffset?: unknown, length?: number): Buffer {
      if (typeof value === 'string') return Buffer.fromArray(encodeString(value, encodingOrOffset as string | undefined));
      if (value instanceof ArrayBuffer) return new Buffer(value, (encodingOrOffset as number) || 0, length === undefined ? value.byteLength - ((encodingOrOffset as number) || 0) : length);
      if (value && typeof value === 'object' && typeof (value as ArrayLike<number>).length === 'number') return Buffer.fromArray(value as ArrayLike<number>);
      if (value && typeof value === 'object' && (value as { type?: string }).type === 'Buffer' && Array.isArray((value as { data?: unknown }).data)) {
        return Buffer.fromArray((value as { data: number[] }).data);
      }
      throw new TypeError('The first argument must be a string, Buffer, ArrayBuffer, Array, or array-like object.');
    }
    static fromArray(values: ArrayLike<number>): Buffer {
      const buf = new Buffer(values.length);
      for (let i = 0; i < values.length; i++) buf[i] = values[i] & 0xff;
      return buf;
    }
    static alloc(size: number, fill?: number | string): Buffer {
      const buf = new Buffer(size);
      if (typeof fill === 'number') buf.fill(fill & 0xff);
      else if (typeof fill === 'string' && fill.length > 0) {
        const pattern = utf8Encode(fill);
        for (let i = 0; i < size; i++) buf[i] = pattern[i % pattern.length];
      }
      return buf;
    }
    static allocUnsafe(size: number): Buffer { return new Buffer(size); }
    static isBuffer(value: unknown): boolean { return value instanceof Buffer; }
    static isEncoding(encoding: unknown): boolean {
      return typeof encoding === 'string' && ['utf8', 'utf-8', 'hex', 'base64', 'base64url', 'latin1', 'binary', 'ascii'].indexOf(encoding.toLowerCase()) >= 0;
    }
    static byteLength(value: unknown, encoding?: string): number {
      if (typeof value === 'string') return encodeString(value, encoding).length;
      return (value as { byteLength?: number }).byteLength || 0;
    }
    static concat(list: ArrayLike<number>[], totalLength?: number): Buffer {
      let total = 0;
      for (let i = 0; i < list.length; i++) total += list[i].length;
      const size = totalLength === undefined ? total : totalLength;
      const out = new Buffer(size);
      let pos = 0;
      for (let i = 0; i < list.length && pos < size; i++) {
        const part = list[i];
        for (let k = 0; k < part.length && pos < size; k++) out[pos++] = part[k];
      }
      return out;
    }
    override toString(encoding?: string, start?: number, end?: number): string {
      const part = start !== undefined || end !== undefined ? this.subarray(start || 0, end === undefined ? this.length : end) : this;
      switch (String(encoding || 'utf8').toLowerCase()) {
        case 'utf8': case 'utf-8': return utf8Decode(part);
        case 'hex': return bytesToHex(part);
        case 'base64': return bytesToBase64(part, false);
        case 'base64url': return bytesToBase64(part, true);
        case 'latin1': case 'binary': return latin1Decode(part);
        case 'ascii': { let s = ''; for (let i = 0; i < part.length; i++) s += String.fromCharCode(part[i] & 0x7f); return s; }
        default: throw new TypeError('Unknown encoding: ' + encoding);
      }
    }
    toJSON(): { type: 'Buffer'; data: number[] } { return { type: 'Buffer', data: Array.prototype.slice.call(this) as number[] }; }
    equals(other: ArrayLike<number>): boolean {
      if (other.length !== this.length) return false;
      for (let i = 0; i < this.length; i++) if (this[i] !== other[i]) return false;
      return true;
    }
    override slice(start?: number, end?: number): Buffer { return this.subarray(start, end) as Buffer; }
    readUInt8(offset?: number): number { return this[checkOffset(this, offset, 1)]; }
    readInt8(offset?: number): number { const v = this[checkOffset(this, offset, 1)]; return v > 0x7f ? v - 0x100 : v; }
    readUInt16LE(offset?: number): number { const o = checkOffset(this, offset, 2); return this[o] | (this[o + 1] << 8); }
    readUInt16BE(offset?: number): number { const o = checkOffset(this, offset, 2); return (this[o] << 8) | this[o + 1]; }
    readInt16LE(offset?: number): number { const v = this.readUInt16LE(offset); return v > 0x7fff ? v - 0x10000 : v; }
    readInt16BE(offset?: number): number { const v = this.readUInt16BE(offset); return v > 0x7fff ? v - 0x10000 : v; }
    readUInt32LE(offset?: number): number { const o = checkOffset(this, offset, 4); return (this[o] | (this[o + 1] << 8) | (this[o + 2] << 16)) + this[o + 3] * 0x1000000; }
    readUInt32BE(offset?: number): number { const o = checkOffset(this, offset, 4); return this[o] * 0x1000000 + ((this[o + 1] << 16) | (this[o + 2] << 8) | this[o + 3]); }
    readInt32LE(offset?: number): number { const o = checkOffset(this, offset, 4); return this[o] | (this[o + 1] << 8) | (this[o + 2] << 16) | (this[o + 3] << 24); }
    readInt32BE(offset?: number): number { const o = checkOffset(this, offset, 4); return (this[o] << 24) | (this[o + 1] << 16) | (this[o + 2] << 8) | this[o + 3]; }
    readUIntLE(offset: number, byteLength: number): number { const o = checkOffset(this, offset, byteLength); let v = 0; for (let i = byteLength - 1; i >= 0; i--) v = v * 256 + this[o + i]; return v; }
    readUIntBE(offset: number, byteLength: number): number { const o = checkOffset(this, offset, byteLength); let v = 0; for (let i = 0; i < byteLength; i++) v = v * 256 + this[o + i]; return v; }
    readIntLE(offset: number, byteLength: number): number { const v = this.readUIntLE(offset, byteLength); const top = 2 ** (8 * byteLength - 1); return v >= top ? v - 2 * top : v; }
    readIntBE(offset: number, byteLength: number): number { const v = this.readUIntBE(offset, byteLength); const top = 2 ** (8 * byteLength - 1); return v >= top ? v - 2 * top : v; }
    readFloatLE(offset?: number): number { return view(this).getFloat32(checkOffset(this, offset, 4), true); }
    readFloatBE(offset?: number): number { return view(this).getFloat32(checkOffset(this, offset, 4), false); }
    readDoubleLE(offset?: number): number { return view(this).getFloat64(checkOffset(this, offset, 8), true); }
    readDoubleBE(offset?: number): number { return view(this).getFloat64(checkOffset(this, offset, 8), false); }
    readBigUInt64LE(offset?: number): bigint { return view(this).getBigUint64(checkOffset(this, offset, 8), true); }
    readBigUInt64BE(offset?: number): bigint { return view(this).getBigUint64(checkOffset(this, offset, 8), false); }
    readBigInt64LE(offset?: number): bigint { return view(this).getBigInt64(checkOffset(this, offset, 8), true); }
    readBigInt64BE(offset?: number): bigint { return view(this).getBigInt64(checkOffset(this, offset, 8), false); }
    writeUInt8(value: number, offset?: number): number { checkValue(value, 0, 0xff); const o = checkOffset(this, offset, 1); this[o] = value; return o + 1; }
    writeInt8(value: number, offset?: number): number { checkValue(value, -0x80, 0x7f); const o = checkOffset(this, offset, 1); this[o] = value & 0xff; return o + 1; }
    writeUInt16LE(value: number, offset?: number): number { checkValue(value, 0, 0xffff); const o = checkOffset(this, offset, 2); this[o] = value & 0xff; this[o + 1] = value >>> 8; return o + 2; }
    writeUInt16BE(value: number, offset?: number): number { checkValue(value, 0, 0xffff); const o = checkOffset(this, offset, 2); this[o] = value >>> 8; this[o + 1] = value & 0xff; return o + 2; }
    writeInt16LE(value: number, offset?: number): number { checkValue(value, -0x8000, 0x7fff); const o = checkOffset(this, offset, 2); this[o] = value & 0xff; this[o + 1] = (value >> 8) & 0xff; return o + 2; }
    writeInt16BE(value: number, offset?: number): number { checkValue(value, -0x8000, 0x7fff); const o = checkOffset(this, offset, 2); this[o] = (value >> 8) & 0xff; this[o + 1] = value & 0xff; return o + 2; }
    writeUInt32LE(value: number, offset?: number): number { checkValue(value, 0, 0xffffffff); const o = checkOffset(this, offset, 4); view(this).setUint32(o, value, true); return o + 4; }
    writeUInt32BE(value: number, offset?: number): number { checkValue(value, 0, 0xffffffff); const o = checkOffset(this, offset, 4); view(this).setUint32(o, value, false); return o + 4; }
    writeInt32LE(value: number, offset?: number): number { checkValue(value, -0x80000000, 0x7fffffff); const o = checkOffset(this, offset, 4); view(this).setInt32(o, value, true); return o + 4; }
    writeInt32BE(value: number, offset?: number): number { checkValue(value, -0x80000000, 0x7fffffff); const o = checkOffset(this, offset, 4); view(this).setInt32(o, value, false); return o + 4; }
    writeFloatLE(value: number, offset?: number): number { const o = checkOffset(this, offset, 4); view(this).setFloat32(o, value, true); return o + 4; }
    writeFloatBE(value: number, offset?: number): number { const o = checkOffset(this, offset, 4); view(this).setFloat32(o, value, false); return o + 4; }
    writeDoubleLE(value: number, offset?: number): number { const o = checkOffset(this, offset, 8); view(this).setFloat64(o, value, true); return o + 8; }
    writeDoubleBE(value: number, offset?: number): number { const o = checkOffset(this, offset, 8); view(this).setFloat64(o, value, false); return o + 8; }
  }
  // Node's lower-case aliases (readUint16LE …) are as common in vendor code as the upper-case ones.
  const proto = Buffer.prototype as unknown as Record<string, unknown>;
  for (const name of Object.getOwnPropertyNames(Buffer.prototype)) {
    if (/^(read|write)UInt/.test(name)) proto[name.replace('UInt', 'Uint')] = proto[name];
  }
  proto.readBigUint64LE = proto.readBigUInt64LE;
  proto.readBigUint64BE = proto.readBigUInt64BE;

  class TextEncoder {
    get encoding(): string { return 'utf-8'; }
    encode(text?: string): Uint8Array { return Uint8Array.from(utf8Encode(text === undefined ? '' : String(text))); }
  }
  class TextDecoder {
    get encoding(): string { return 'utf-8'; }
    decode(bytes?: ArrayLike<number> | ArrayBuffer): string {
      if (bytes === undefined) return '';
      return utf8Decode(bytes instanceof ArrayBuffer ? new Uint8Array(bytes) : bytes);
    }
  }

  return { Buffer, TextEncoder, TextDecoder, bytesToBase64, base64ToBytes };
}
