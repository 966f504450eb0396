'use strict';
// Light sensor LX-1, strict-mode codec: `this` is undefined in the entry function; top-level
// `const` tables are not properties of the global.
const SCALE = { 0: 1, 1: 10, 2: 100 };

function decodeUplink(input) {
  const range = input.bytes[0];
  const raw = (input.bytes[1] << 8) | input.bytes[2];
  return {
    data: {
      lux: raw * SCALE[range],
      this_type: typeof this,
      scale_on_global: typeof globalThis.SCALE,
      decoder_on_global: typeof globalThis.decodeUplink,
    },
  };
}
