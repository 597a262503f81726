/// <reference types="vite/client" />

/** True in the phone-first build (`vite build --mode h5`). */
declare const __H5__: boolean;
