import CPTYShim

/// The process environment, as the C library holds it.
public enum ProcessEnvironment {
    /// environ: a NULL-terminated array of NAME=VALUE strings.
    public static var entries: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?> {
        ptyshim_environ()
    }
}
