// Modbus bridge MB-1: passes register blocks on as they came. TTS exports typed arrays (and so
// a Buffer) and ArrayBuffers as arrays of numbers.
function decodeUplink(input) {
  var bytes = Uint8Array.from(input.bytes);
  var slave = bytes[0];
  var block = bytes.subarray(1);
  return {
    data: {
      slave: slave,
      registers: block,
      copy: Buffer.from(block),
      words: new Uint16Array([block[0] * 256 + block[1]]),
      buffer: block.slice(0, 2).buffer,
    },
  };
}
