// Package main entry: the parts of this package usable outside Node-RED (and in function nodes).
export { createCodec, cayenneLpp, cayenneLppCodec, passthroughCodec, CodecLoadError, CayenneLppError } from './codec';
export type { Codec, CodecError, CodecOptions, DecodeResult, EncodeResult, ScriptForm, UplinkInput, DownlinkEncodeInput, DownlinkDecodeInput } from './codec';
