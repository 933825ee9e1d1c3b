// The server's URLs from the one the application gives: "http://host:port"
// (what a person types), "https://…", or the socket's own "ws(s)://…/ws".

/** The http(s) base, without a trailing slash or path. */
export function httpBase(url: string): string {
  const u = new URL(url);
  const proto = u.protocol === "wss:" || u.protocol === "https:" ? "https:" : "http:";
  return `${proto}//${u.host}`;
}

/** The socket's URL: ws(s)://host/ws. */
export function wsUrl(url: string): string {
  const u = new URL(url);
  const proto = u.protocol === "wss:" || u.protocol === "https:" ? "wss:" : "ws:";
  return `${proto}//${u.host}/ws`;
}
