package dev.vhostd.daemon.bench;

/** The I/O pattern, named as fio names it. */
public enum RwMode {
    RANDREAD(true, false, true),
    RANDWRITE(false, true, true),
    RANDRW(true, true, true),
    READ(true, false, false),
    WRITE(false, true, false);

    public final boolean reads;
    public final boolean writes;
    public final boolean random;

    RwMode(boolean reads, boolean writes, boolean random) {
        this.reads = reads;
        this.writes = writes;
        this.random = random;
    }

    public String label() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
