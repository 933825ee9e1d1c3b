/** The http(s) base, without a trailing slash or path. */
export declare function httpBase(url: string): string;
/** The socket's URL: ws(s)://host/ws. */
export declare function wsUrl(url: string): string;
