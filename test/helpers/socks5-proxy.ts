// A small SOCKS5 proxy (RFC 1928, RFC 1929 credentials) for tests, on node:net:
// it records what each connection asked for and, as told, forwards CONNECT to
// a loopback port, answers a failure code, stays silent or answers garbage.
// Binds 127.0.0.1 only.
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';

/** What the proxy was asked on one connection. */
export interface Asked {
  methods: number[];
  username?: string;
  password?: string;
  /** 1 IPv4, 3 name, 4 IPv6. */
  atyp?: number;
  host?: string;
  port?: number;
}

export type Behaviour =
  /** Forward to the address `route` gives (undefined: refuse with 0x04). */
  | { kind: 'forward'; route: (host: string, port: number) => number | undefined }
  /** Answer CONNECT with this failure code. */
  | { kind: 'fail'; code: number }
  /** Accept the TCP connection, read, never write. */
  | { kind: 'silent' }
  /** Answer the greeting with an HTTP error page. */
  | { kind: 'garbage' };

/** Reads exact byte counts from a socket, keeping what arrives early. */
function byteReader(socket: Socket) {
  let buffered = Buffer.alloc(0);
  let wake: (() => void) | undefined;
  let ended = false;
  const onData = (d: Buffer) => {
    buffered = Buffer.concat([buffered, d]);
    wake?.();
  };
  socket.on('data', onData);
  socket.on('close', () => {
    ended = true;
    wake?.();
  });
  return {
    async read(n: number): Promise<Buffer> {
      while (buffered.length < n) {
        if (ended) throw new Error('client closed');
        await new Promise<void>((r) => {
          wake = r;
        });
        wake = undefined;
      }
      const out = buffered.subarray(0, n);
      buffered = buffered.subarray(n);
      return out;
    },
    /** Stops reading; returns what arrived past the last read. */
    detach(): Buffer {
      socket.off('data', onData);
      return buffered;
    },
  };
}

export class Socks5Proxy {
  readonly asked: Asked[] = [];
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  address = '';

  constructor(private readonly behaviour: Behaviour) {
    this.server = createServer((socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      socket.on('error', () => {});
      this.serve(socket).catch(() => socket.destroy());
    });
  }

  async listen(): Promise<string> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    const { port } = this.server.address() as { port: number };
    this.address = `127.0.0.1:${port}`;
    return this.address;
  }

  close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((r) => this.server.close(() => r()));
  }

  private async serve(socket: Socket): Promise<void> {
    const r = byteReader(socket);
    const asked: Asked = { methods: [] };
    this.asked.push(asked);
    if (this.behaviour.kind === 'silent') return;
    const [version, count] = await r.read(2);
    if (version !== 5) throw new Error(`greeting version ${version}`);
    asked.methods = [...(await r.read(count as number))];
    if (this.behaviour.kind === 'garbage') {
      socket.write('HTTP/1.1 400 Bad Request\r\n\r\n');
      return;
    }
    if (asked.methods.includes(2)) {
      socket.write(Buffer.of(5, 2));
      const [authVersion, userLen] = await r.read(2);
      if (authVersion !== 1) throw new Error(`auth version ${authVersion}`);
      asked.username = (await r.read(userLen as number)).toString();
      const [passLen] = await r.read(1);
      asked.password = (await r.read(passLen as number)).toString();
      socket.write(Buffer.of(1, 0));
    } else {
      socket.write(Buffer.of(5, 0));
    }
    const [v, cmd, rsv, atyp] = await r.read(4);
    if (v !== 5 || cmd !== 1 || rsv !== 0) throw new Error(`request ${v} ${cmd} ${rsv}`);
    asked.atyp = atyp;
    if (atyp === 1) asked.host = [...(await r.read(4))].join('.');
    else if (atyp === 4) asked.host = (await r.read(16)).toString('hex');
    else asked.host = (await r.read((await r.read(1))[0] as number)).toString();
    asked.port = (await r.read(2)).readUInt16BE(0);
    if (this.behaviour.kind === 'fail') {
      socket.write(Buffer.of(5, this.behaviour.code, 0, 1, 0, 0, 0, 0, 0, 0));
      socket.end();
      return;
    }
    const to = this.behaviour.route(asked.host, asked.port);
    if (to === undefined) {
      socket.end(Buffer.of(5, 4, 0, 1, 0, 0, 0, 0, 0, 0));
      return;
    }
    const upstream = tcpConnect(to, '127.0.0.1');
    upstream.on('error', () => socket.destroy());
    await new Promise<void>((resolve) => upstream.once('connect', resolve));
    this.sockets.add(upstream);
    socket.write(Buffer.of(5, 0, 0, 1, 127, 0, 0, 1, (to >> 8) & 0xff, to & 0xff));
    const early = r.detach();
    if (early.length > 0) upstream.write(early);
    socket.pipe(upstream);
    upstream.pipe(socket);
  }
}
