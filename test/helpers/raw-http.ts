// The load generator's HTTP client: keep-alive HTTP/1.1 POSTs written as one prepared string per
// request on plain sockets, and only the status line and the body's framing read from the answer.
// node:http's client costs 250-300 µs of CPU per request on this machine, more than the bare
// server spends on the whole job, and the bench's load shares the server's two cores: that
// client measured itself as much as the server. This one costs 60-80 µs (measured side by side
// against bench/bare-server.ts). It checks what the bench needs (status, a complete answer) and
// nothing else: it is a test helper, not a general client.
import net from 'node:net';

export type PostOutcome = number | string;

interface Pending {
  resolve(outcome: PostOutcome): void;
  timer: NodeJS.Timeout;
}

/** One keep-alive connection: one request at a time. */
class Connection {
  readonly socket: net.Socket;
  private buffer = '';
  private pending: Pending | undefined;
  /** The server said `Connection: close`: no more requests on this one. */
  private ending = false;
  closed = false;

  constructor(host: string, port: number, onIdle: (c: Connection) => void, onGone: (c: Connection) => void) {
    this.socket = net.connect(port, host);
    this.socket.setNoDelay(true);
    this.socket.setEncoding('latin1');
    this.socket.on('data', (text: string) => {
      this.buffer += text;
      const status = this.completeAnswer();
      if (status === undefined) return;
      const pending = this.pending;
      this.pending = undefined;
      if (pending) {
        clearTimeout(pending.timer);
        pending.resolve(status);
      }
      if (!this.ending) onIdle(this);
    });
    const gone = (code: string): void => {
      if (this.closed) return;
      this.closed = true;
      onGone(this);
      const pending = this.pending;
      this.pending = undefined;
      if (pending) {
        clearTimeout(pending.timer);
        pending.resolve(code);
      }
    };
    this.socket.on('error', (err: NodeJS.ErrnoException) => gone(err.code ?? err.message));
    this.socket.on('close', () => gone('ECONNRESET'));
  }

  send(request: string, timeoutMs: number): Promise<PostOutcome> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pending = undefined;
        resolve('TIMEOUT');
        this.socket.destroy();
      }, timeoutMs);
      this.pending = { resolve, timer };
      this.socket.write(request, 'latin1');
    });
  }

  /** The status of the answer in the buffer once it is complete (and removes it), else undefined. */
  private completeAnswer(): number | undefined {
    const headEnd = this.buffer.indexOf('\r\n\r\n');
    if (headEnd < 0) return undefined;
    const head = this.buffer.slice(0, headEnd);
    const status = Number(head.slice(9, 12));
    const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    let end: number;
    if (length) {
      end = headEnd + 4 + Number(length[1]);
      if (this.buffer.length < end) return undefined;
    } else if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
      const last = this.buffer.indexOf('\r\n0\r\n\r\n', headEnd);
      const empty = this.buffer.startsWith('0\r\n\r\n', headEnd + 4);
      if (empty) end = headEnd + 9;
      else if (last >= 0) end = last + 7;
      else return undefined;
    } else {
      end = headEnd + 4;
    }
    this.buffer = this.buffer.slice(end);
    if (/\r\nconnection:\s*close/i.test(head)) {
      this.ending = true;
      this.socket.end();
    }
    return status;
  }
}

/** Keep-alive connections to one URL, opened as requests need them, at most `maxSockets`. */
export class RawHttpPool {
  private readonly idle: Connection[] = [];
  private readonly all = new Set<Connection>();
  private readonly waiting: Array<(c: Connection) => void> = [];
  private readonly host: string;
  private readonly port: number;
  /** The request's head up to its Content-Length value: the same for every request. */
  private readonly head: string;

  constructor(url: URL, headers: Record<string, string>, private readonly maxSockets: number) {
    this.host = url.hostname;
    this.port = Number(url.port) || 80;
    let head = `POST ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nContent-Type: application/json\r\n`;
    for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
    this.head = `${head}Content-Length: `;
  }

  /** POSTs `body` (JSON); resolves with the answer's status or the network error's code. */
  async post(body: string, timeoutMs: number): Promise<PostOutcome> {
    // Written as latin1 (one byte per character): a body with non-ASCII text goes as its UTF-8 bytes.
    const bytes = Buffer.byteLength(body);
    const text = body.length === bytes ? body : Buffer.from(body, 'utf8').toString('latin1');
    const connection = await this.take();
    return connection.send(`${this.head}${bytes}\r\n\r\n${text}`, timeoutMs);
  }

  destroy(): void {
    for (const c of this.all) c.socket.destroy();
    this.all.clear();
    this.idle.length = 0;
  }

  private take(): Promise<Connection> {
    const ready = this.idle.pop();
    if (ready) return Promise.resolve(ready);
    if (this.all.size < this.maxSockets) return Promise.resolve(this.open());
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private open(): Connection {
    const c = new Connection(
      this.host,
      this.port,
      (idle) => this.release(idle),
      (gone) => {
        this.all.delete(gone);
        const i = this.idle.indexOf(gone);
        if (i >= 0) this.idle.splice(i, 1);
        // A caller waiting for a connection gets a fresh one instead.
        const next = this.waiting.shift();
        if (next) next(this.open());
      },
    );
    this.all.add(c);
    return c;
  }

  private release(c: Connection): void {
    if (c.closed) return;
    const next = this.waiting.shift();
    if (next) next(c);
    else this.idle.push(c);
  }
}
