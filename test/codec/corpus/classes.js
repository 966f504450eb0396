// Air quality monitor AQ-2 using ES classes with static and private members; the classes are
// top-level lexical declarations (not properties of the global).
class Reader {
  #bytes;
  #pos = 0;
  constructor(bytes) {
    this.#bytes = bytes;
  }
  u8() {
    return this.#bytes[this.#pos++];
  }
  u16() {
    const v = (this.#bytes[this.#pos] << 8) | this.#bytes[this.#pos + 1];
    this.#pos += 2;
    return v;
  }
  get remaining() {
    return this.#bytes.length - this.#pos;
  }
}

class Pm {
  static fromReader(r) {
    return new Pm(r.u16(), r.u16());
  }
  constructor(pm25, pm10) {
    this.pm2_5 = pm25 / 10;
    this.pm10 = pm10 / 10;
  }
  get index() {
    return this.pm2_5 > 25 ? 'poor' : 'good';
  }
}

function decodeUplink(input) {
  const r = new Reader(input.bytes);
  const version = r.u8();
  const pm = Pm.fromReader(r);
  return { data: { version, pm, index: pm.index, left: r.remaining, reader_on_global: typeof globalThis.Reader } };
}
