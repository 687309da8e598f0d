// The version --version prints; a test keeps it equal to package.json's, which the bundle cannot read at run time.
export const VERSION = '0.1.0';

/** RFC 8555 §6.1: the User-Agent names the client and its runtime. */
export function userAgent(runtime: string): string {
  return `acme-client/${VERSION} (${runtime})`;
}
