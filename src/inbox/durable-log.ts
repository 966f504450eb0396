import { close as closeFd, constants, open as openFd, write as writeFd, promises as fsp, mkdirSync, readdirSync, readFileSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { ChurnMap } from '../util/churn-map';

/**
 * An append-only log of accepted webhook messages, local to this Node-RED instance, so that a
 * 2xx to TTS can mean "recorded on disk" even while a remote store is down.
 *
 * Records are framed by length, so bodies are stored byte for byte without escaping:
 *   A <seq> <acceptedAt> <metaBytes> <bodyBytes>\n<meta JSON><body>\n   an accepted message
 *   D <seq> <seq> …\n                                                   finished messages
 *   E <seq> <key>\n                                                     an effect done once (a downlink sent)
 * Appends are written in groups to a segment opened with O_DSYNC (a write returns once its data is
 * on disk: one file-system call per group where write + fdatasync took two, each a hand-off to
 * libuv's thread pool that costs the event loop 15-60 µs): every request that arrives while one
 * group is being written joins the next, so concurrent requests share one sync. Groups overwrite
 * zeros written ahead of them (PREPARE_BYTES at a time): a write that grows the file makes each
 * sync commit the file's new size to the file-system journal too, which cost ~40 % more time
 * and CPU per sync here (p50 230 against 150 µs). A reader stops at the zeros. Finish and effect records
 * ride along with the next group; losing them in a crash only means a replay, which downstream
 * nodes recognise. A segment is deleted once every message in it has finished.
 */

export interface EntryMeta {
  /** The tts-webhook-in node that accepted it. */
  node: string;
  /** Where it came from when not from a webhook request. */
  source?: 'backfill';
}

export interface LogEntry extends EntryMeta {
  seq: number;
  acceptedAt: number;
  /** Body size in bytes, for the inbox's byte bound. */
  size: number;
  /** Effects recorded for it (e.g. `downlink:<node id>`). */
  effects?: Set<string>;
}

export interface StoredEntry extends LogEntry {
  body: string;
}

export interface LogOptions {
  /** Start a new segment once the current one is larger than this (default 16 MiB). */
  segmentBytes?: number;
  /** How long finish records may wait for a group when nothing is appended (default 200 ms). */
  finishDelayMs?: number;
  /**
   * How long an append that finds the disk idle waits for others to share its write: by default
   * the rest of the event-loop turn (requests read in the same turn share a write, at no cost in
   * latency); a number of ms waits that long (0 writes at once). A write costs the event loop
   * ~20 µs here, whatever its size, while a sync takes ~0.5 ms and every acknowledgement waits
   * for it: waiting a whole millisecond saved CPU but cost closed-loop throughput once the event
   * loop had room. Appends that arrive while a write runs go with the next write as soon as it is
   * done, without waiting.
   */
  gatherMs?: number;
}

// A group this large already shares a write well: no waiting.
const GATHER_BELOW = 32;
// Zeros written ahead of the groups, at most this much at a time (~1 ms here for 1 MiB, once per
// ~600 uplinks); never more than the segment's size limit (rounded up to a page).
const PREPARE_BYTES = 1024 * 1024;
const PAGE = 4096;

interface Segment {
  first: number;
  file: string;
  /** File descriptor, opened for writing with O_DSYNC. */
  fd?: number;
  /** Bytes of records: where the next group goes. */
  size: number;
  /** The file's length: zeros from `size` on. */
  prepared: number;
  live: number;
}

interface Located extends LogEntry {
  segment: Segment;
  /** Where the body starts in the segment file. */
  offset: number;
}

interface Group {
  chunks: Buffer[];
  /** Entries whose records are in `chunks`, with the chunk index of each. */
  appended: Array<{ entry: Located; chunk: number; bodyAt: number }>;
  waiters: Array<{ resolve: () => void; reject: (err: Error) => void }>;
}

const SEGMENT_PATTERN = /^inbox-(\d{12})\.log$/;

function segmentName(firstSeq: number): string {
  return `inbox-${String(firstSeq).padStart(12, '0')}.log`;
}

/**
 * An accept record: header line, meta, body, newline. Written part by part into one buffer (from
 * Node's pool, outside the JS heap): joining them into one string first made a copy of every body
 * in the young generation, and flattening it for the encoder another.
 */
function acceptRecord(seq: number, acceptedAt: number, metaText: string, body: string): { chunk: Buffer; bodyAt: number; size: number } {
  const metaBytes = Buffer.byteLength(metaText);
  const size = Buffer.byteLength(body);
  const header = `A ${seq} ${acceptedAt} ${metaBytes} ${size}\n`; // ASCII: one byte per character
  const bodyAt = header.length + metaBytes;
  const chunk = Buffer.allocUnsafe(bodyAt + size + 1);
  chunk.write(header, 0, 'latin1');
  chunk.write(metaText, header.length, 'utf8');
  chunk.write(body, bodyAt, 'utf8');
  chunk[bodyAt + size] = 10;
  return { chunk, bodyAt, size };
}

/** Reads one segment; a torn record at the end (a crash mid-write) ends the segment. */
function readSegment(data: Buffer, onAccept: (entry: StoredEntry) => void, onFinish: (seq: number) => void, onEffect: (seq: number, key: string) => void): void {
  let at = 0;
  while (at < data.length) {
    const eol = data.indexOf(10, at);
    if (eol < 0) return;
    const header = data.toString('latin1', at, eol).split(' ');
    at = eol + 1;
    if (header[0] === 'A' && header.length === 5) {
      const [seq, acceptedAt, metaBytes, bodyBytes] = header.slice(1).map(Number);
      const end = at + metaBytes + bodyBytes;
      if (![seq, acceptedAt, metaBytes, bodyBytes].every(Number.isSafeInteger) || end + 1 > data.length || data[end] !== 10) return;
      let meta: EntryMeta;
      try {
        meta = JSON.parse(data.toString('utf8', at, at + metaBytes)) as EntryMeta;
      } catch {
        return;
      }
      onAccept({ ...meta, seq, acceptedAt, size: bodyBytes, body: data.toString('utf8', at + metaBytes, end) });
      at = end + 1;
    } else if (header[0] === 'D') {
      for (const s of header.slice(1)) onFinish(Number(s));
    } else if (header[0] === 'E' && header.length === 3) {
      onEffect(Number(header[1]), header[2]);
    } else {
      return;
    }
  }
}

function metaOf(entry: LogEntry): EntryMeta {
  return {
    node: entry.node,
    ...(entry.source ? { source: entry.source } : {}),
  };
}

async function syncDirectory(directory: string): Promise<void> {
  const dir = await fsp.open(directory, 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

export class DurableLog {
  private readonly segmentBytes: number;
  private readonly finishDelayMs: number;
  private readonly gatherMs: number | undefined;
  /** Oldest first; the last one is written to. */
  private readonly segments: Segment[] = [];
  private readonly entries = new ChurnMap<number, Located>();
  private nextSeq: number;
  private group: Group = { chunks: [], appended: [], waiters: [] };
  private writing: Promise<void> | undefined;
  private finishTimer: NodeJS.Timeout | undefined;
  private gatherTimer: NodeJS.Timeout | NodeJS.Immediate | undefined;
  private groups = 0;
  private liveBytes = 0;
  private failure: Error | undefined;
  private closed = false;

  private constructor(
    readonly directory: string,
    nextSeq: number,
    options: LogOptions,
  ) {
    this.segmentBytes = options.segmentBytes ?? 16 * 1024 * 1024;
    this.finishDelayMs = options.finishDelayMs ?? 200;
    this.gatherMs = options.gatherMs;
    this.nextSeq = nextSeq;
  }

  /**
   * Opens the log in `directory` (created if missing) and returns it with the messages that were
   * accepted and never finished, oldest first. The unfinished messages are first copied into a
   * fresh segment (synced), then the old segments are removed, so a message that never finishes
   * cannot keep finished ones on disk across restarts.
   */
  static async open(directory: string, options: LogOptions = {}): Promise<{ log: DurableLog; unfinished: StoredEntry[] }> {
    mkdirSync(directory, { recursive: true });
    const files = readdirSync(directory)
      .map((name) => SEGMENT_PATTERN.exec(name))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => ({ file: join(directory, m[0]), first: Number(m[1]) }))
      .sort((a, b) => a.first - b.first);
    const accepted = new Map<number, StoredEntry>();
    let maxSeq = 0;
    for (const { file } of files) {
      readSegment(
        readFileSync(file),
        (entry) => {
          accepted.set(entry.seq, entry);
          maxSeq = Math.max(maxSeq, entry.seq);
        },
        (seq) => accepted.delete(seq),
        (seq, key) => {
          const entry = accepted.get(seq);
          if (entry) (entry.effects ??= new Set()).add(key);
        },
      );
    }
    const unfinished = [...accepted.values()].sort((a, b) => a.seq - b.seq);
    const log = new DurableLog(directory, Math.max(maxSeq, ...files.map((f) => f.first)) + 1, options);
    if (unfinished.length > 0) {
      for (const entry of unfinished) {
        const { chunk, bodyAt } = acceptRecord(entry.seq, entry.acceptedAt, JSON.stringify(metaOf(entry)), entry.body);
        const located: Located = { ...metaOf(entry), seq: entry.seq, acceptedAt: entry.acceptedAt, size: entry.size, segment: undefined as unknown as Segment, offset: 0 };
        if (entry.effects) located.effects = new Set(entry.effects);
        log.entries.set(entry.seq, located);
        log.liveBytes += entry.size;
        log.group.appended.push({ entry: located, chunk: log.group.chunks.length, bodyAt });
        log.group.chunks.push(chunk);
        for (const key of entry.effects ?? []) log.group.chunks.push(Buffer.from(`E ${entry.seq} ${key}\n`));
      }
      const copied = log.nextSync();
      log.startWriting();
      await copied;
    }
    for (const { file } of files) unlinkSync(file);
    if (files.length > 0) await syncDirectory(directory);
    return { log, unfinished };
  }

  /** Messages accepted and not finished. */
  get unfinished(): number {
    return this.entries.size;
  }

  /** Body bytes of the messages accepted and not finished. */
  get unfinishedBytes(): number {
    return this.liveBytes;
  }

  /** Groups written so far (each one write and sync). */
  get groupsWritten(): number {
    return this.groups;
  }

  /** Set once a write or sync failed: the log takes nothing more until reopened. */
  get error(): Error | undefined {
    return this.failure;
  }

  entry(seq: number): LogEntry | undefined {
    return this.entries.get(seq);
  }

  /** Unfinished entries accepted by one node, oldest first. */
  entriesOf(node: string): LogEntry[] {
    const found: LogEntry[] = [];
    for (const entry of this.entries.values()) if (entry.node === node) found.push(entry);
    return found.sort((a, b) => a.seq - b.seq);
  }

  /** Records a message; resolves with its sequence number once it is synced to disk. */
  append(body: string, meta: EntryMeta, acceptedAt = Date.now()): Promise<number> {
    try {
      const { seq, synced } = this.appendNow(body, meta, acceptedAt);
      return synced.then(() => seq);
    } catch (err) {
      return Promise.reject(err as Error);
    }
  }

  /**
   * Records a message: its sequence number at once, and `synced`, which settles once it is on
   * disk (rejects, and the entry is forgotten, when the write failed). Throws when the log is
   * closed or has failed.
   */
  appendNow(body: string, meta: EntryMeta, acceptedAt = Date.now()): { seq: number; synced: Promise<void> } {
    if (this.closed) throw new Error('inbox is closed');
    if (this.failure) throw this.failure;
    const seq = this.nextSeq++;
    const { chunk, bodyAt, size } = acceptRecord(seq, acceptedAt, JSON.stringify(meta), body);
    const entry: Located = { ...meta, seq, acceptedAt, size, segment: undefined as unknown as Segment, offset: 0 };
    this.entries.set(seq, entry);
    this.liveBytes += size;
    this.group.appended.push({ entry, chunk: this.group.chunks.length, bodyAt });
    this.group.chunks.push(chunk);
    const synced = this.nextSync();
    this.gatherThenWrite();
    return {
      seq,
      synced: synced.catch((err: Error) => {
        this.forget(seq);
        throw err;
      }),
    };
  }

  /** Marks messages finished (written with the next group; no sync of their own). */
  finish(seqs: number[]): void {
    const done = seqs.filter((seq) => this.forget(seq));
    if (done.length === 0 || this.closed) return;
    this.group.chunks.push(Buffer.from(`D ${done.join(' ')}\n`));
    this.finishTimer ??= setTimeout(() => {
      this.finishTimer = undefined;
      this.startWriting();
    }, this.finishDelayMs);
  }

  /** Records that an effect (a downlink sent for this message) happened; resolves once synced. */
  recordEffect(seq: number, key: string): Promise<void> {
    const entry = this.entries.get(seq);
    if (!entry || this.closed || this.failure) return Promise.resolve();
    if (/\s/.test(key)) return Promise.reject(new Error('effect keys have no white space'));
    (entry.effects ??= new Set()).add(key);
    this.group.chunks.push(Buffer.from(`E ${seq} ${key}\n`));
    const synced = this.nextSync();
    this.startWriting();
    return synced;
  }

  /** The stored body of an unfinished message (read back for replays). */
  async body(seq: number): Promise<string> {
    const entry = this.entries.get(seq);
    if (!entry) throw new Error(`message ${seq} is not in the inbox`);
    // The group that holds it may still be on its way to disk.
    while (entry.segment === undefined && this.entries.has(seq)) {
      if (this.failure) throw this.failure;
      await this.drain();
    }
    const handle = await fsp.open(entry.segment.file, 'r');
    try {
      const buffer = Buffer.alloc(entry.size);
      const { bytesRead } = await handle.read(buffer, 0, entry.size, entry.offset);
      if (bytesRead !== entry.size) throw new Error(`message ${seq} could not be read back`);
      return buffer.toString('utf8');
    } finally {
      await handle.close();
    }
  }

  /** Writes and syncs everything pending. */
  async drain(): Promise<void> {
    while (this.writing || this.group.chunks.length > 0) {
      if (!this.writing) this.startWriting();
      await this.writing;
      if (this.failure) return;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    if (this.finishTimer) clearTimeout(this.finishTimer);
    this.finishTimer = undefined;
    if (this.group.chunks.length > 0) {
      // Finish records too are worth a sync on a clean stop: fewer replays after it.
      const synced = this.nextSync();
      this.startWriting();
      await synced.catch(() => undefined);
    }
    await this.drain();
    this.closed = true;
    for (const segment of this.segments) if (segment.fd !== undefined) await closeSegment(segment);
  }

  /** Resolves once the group being collected is written and synced. */
  private nextSync(): Promise<void> {
    return new Promise<void>((resolve, reject) => this.group.waiters.push({ resolve, reject }));
  }

  private forget(seq: number): boolean {
    const entry = this.entries.get(seq);
    if (!entry) return false;
    this.entries.delete(seq);
    this.liveBytes -= entry.size;
    if (entry.segment) {
      entry.segment.live -= 1;
      this.removeFinishedSegments();
    }
    return true;
  }

  /**
   * Removes the oldest segments while nothing in them is unfinished. Only from the oldest: a
   * later segment may hold the finish records of an earlier one's messages.
   */
  private removeFinishedSegments(): void {
    while (this.segments.length > 1 && this.segments[0].live === 0) {
      const old = this.segments.shift()!;
      void closeSegment(old).then(() => fsp.unlink(old.file)).catch(() => undefined);
    }
  }

  private gatherThenWrite(): void {
    if (this.writing) return;
    if (this.gatherMs === 0 || this.group.appended.length >= GATHER_BELOW) {
      this.startWriting();
      return;
    }
    if (this.gatherTimer) return;
    const write = (): void => {
      this.gatherTimer = undefined;
      this.startWriting();
    };
    this.gatherTimer = this.gatherMs === undefined ? setImmediate(write) : setTimeout(write, this.gatherMs);
  }

  private startWriting(): void {
    if (this.writing || this.group.chunks.length === 0 || this.closed) return;
    this.writing = this.writeGroup().finally(() => {
      this.writing = undefined;
      if (this.group.waiters.length > 0) this.startWriting();
    });
  }

  private async writeGroup(): Promise<void> {
    const group = this.group;
    this.group = { chunks: [], appended: [], waiters: [] };
    if (this.finishTimer) clearTimeout(this.finishTimer);
    this.finishTimer = undefined;
    if (this.gatherTimer) {
      // An immediate without gatherMs, a timer with it.
      if (this.gatherMs === undefined) clearImmediate(this.gatherTimer as NodeJS.Immediate);
      else clearTimeout(this.gatherTimer as NodeJS.Timeout);
    }
    this.gatherTimer = undefined;
    try {
      if (this.failure) throw this.failure;
      const data = Buffer.concat(group.chunks);
      const segment = await this.segmentFor(data.length);
      const fd = segment.fd!;
      await this.prepare(segment, segment.size + data.length);
      let written = 0;
      this.groups += 1;
      while (written < data.length) written += await writeSynced(fd, data, written, segment.size + written);
      let position = segment.size;
      let next = 0;
      for (let i = 0; i < group.chunks.length; i++) {
        const placed = group.appended[next];
        if (placed?.chunk === i) {
          next += 1;
          if (this.entries.get(placed.entry.seq) === placed.entry) {
            placed.entry.segment = segment;
            placed.entry.offset = position + placed.bodyAt;
            segment.live += 1;
          }
        }
        position += group.chunks[i].length;
      }
      segment.size = position;
      for (const w of group.waiters) w.resolve();
    } catch (err) {
      this.failure ??= err instanceof Error ? err : new Error(String(err));
      for (const w of group.waiters) w.reject(this.failure);
    }
  }

  private async segmentFor(bytes: number): Promise<Segment> {
    const current = this.segments[this.segments.length - 1];
    if (current?.fd !== undefined && (current.size === 0 || current.size + bytes <= this.segmentBytes)) return current;
    if (current) await closeSegment(current);
    // Named after the next sequence number, and always after the current one: a group of finish
    // records alone can need a new segment before any message took the next number.
    const first = Math.max(this.nextSeq, (current?.first ?? 0) + 1);
    const file = join(this.directory, segmentName(first));
    const segment: Segment = { first, file, fd: await openSynced(file), size: 0, prepared: 0, live: 0 };
    await this.prepare(segment, bytes);
    // The new file's directory entry must survive a crash too.
    await syncDirectory(this.directory);
    this.segments.push(segment);
    this.removeFinishedSegments();
    return segment;
  }

  /** Makes the segment's zeros reach at least `end` (synced: the file's length is on disk). */
  private async prepare(segment: Segment, end: number): Promise<void> {
    if (end <= segment.prepared) return;
    const step = Math.min(PREPARE_BYTES, Math.ceil(this.segmentBytes / PAGE) * PAGE);
    const target = Math.ceil(Math.max(end, segment.prepared + step) / PAGE) * PAGE;
    const zeros = Buffer.alloc(target - segment.prepared);
    let written = 0;
    while (written < zeros.length) written += await writeSynced(segment.fd!, zeros, written, segment.prepared + written);
    segment.prepared = target;
  }
}

// Not O_APPEND: groups are written at their place in the zeros (Linux ignores the position of a
// write to a file opened for appending).
const WRITE_SYNCED = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_DSYNC;

function openSynced(file: string): Promise<number> {
  return new Promise((resolve, reject) => openFd(file, WRITE_SYNCED, 0o644, (err, fd) => (err ? reject(err) : resolve(fd))));
}

/** Writes `data` from `offset` on at `position`; resolves with the bytes written, on disk when it resolves (O_DSYNC). */
function writeSynced(fd: number, data: Buffer, offset: number, position: number): Promise<number> {
  return new Promise((resolve, reject) => writeFd(fd, data, offset, data.length - offset, position, (err, written) => (err ? reject(err) : resolve(written))));
}

function closeSegment(segment: Segment): Promise<void> {
  const fd = segment.fd;
  segment.fd = undefined;
  if (fd === undefined) return Promise.resolve();
  return new Promise((resolve) => closeFd(fd, () => resolve()));
}
