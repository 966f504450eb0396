// The codec engine: user scripts in a vm sandbox (every TTS script form), Cayenne LPP, pass-through.
export { createCodec, cayenneLppCodec, passthroughCodec, resolveOptions, CodecLoadError, DEFAULT_TIMEOUT_MS, MAX_TIMEOUT_MS } from './create-codec';
export { cayenneLpp, CayenneLppError } from './cayenne-lpp';
export type { LppObject, LppValue, LppXyz, LppGps } from './cayenne-lpp';
export type {
  Codec,
  CodecError,
  CodecErrorKind,
  CodecOptions,
  DecodeResult,
  DownlinkDecodeInput,
  DownlinkEncodeInput,
  EncodeResult,
  ScriptForm,
  UplinkInput,
} from './types';
export { UplinkDecoder, uplinkInputFromMessage, isDecoderMode, DECODER_MODES } from './uplink-decoder';
export type { DecoderMode, DecodeOutcome, DecodableMessage, UplinkDecoderOptions } from './uplink-decoder';
export { PayloadInputError, bytesFromValue, bytesFromText, bytesFromHex, bytesFromBase64 } from './payload-input';
// The edit dialog's test tool (test-tool.ts) is imported by the decode node directly.
