import type { NodeDef } from 'node-red';

/** tts-bucket's stored config: shared by the runtime, the tests and the flow factories. */
export interface TtsBucketDef extends NodeDef {
  store: string;
  mode?: 'write' | 'query';
  /** Fixed bucket id; msg.bucket wins when set. */
  bucket?: string;
  /** Query output shape: rows (default) or chart (Dashboard 2.0 ui-chart points). */
  format?: 'rows' | 'chart';
  /** Query page size when msg.limit is not set (text in the editor). */
  limit?: string | number;
  /** Write: store the uplink's radio summary beside the reading. */
  radio?: boolean | string;
  /** Write: retention applied to the buckets this node writes, in days and rows ('' = none). */
  maxAge?: string | number;
  maxRows?: string | number;
}
