// The version --version prints; a test keeps it equal to package.json's, which the bundle cannot read at run time.
export const VERSION = '0.1.0';
