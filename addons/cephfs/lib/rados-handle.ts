// What cephfs-js needs from a rados-js `Rados` to mount through its connection. Declared
// structurally so this package does not depend on rados-js at build time.

export interface RadosHandleProvider {
  /**
   * Returns an External wrapping the connected `rados_t` and pins the Rados so it cannot shut
   * down until the matching `releaseNativeHandle()`.
   */
  acquireNativeHandle(): unknown;
  /** Undoes one `acquireNativeHandle()`. */
  releaseNativeHandle(): void;
}
