package dev.vhostd.daemon.guest;

import java.util.Optional;

/**
 * Which QEMU boots the test guests. Debian 12's 7.2 is the system QEMU; 10.0 comes from
 * bookworm-backports, unpacked by scripts/install-qemu10.sh into /opt/vhostd/qemu-10.0.
 *
 * <p>The switch is {@code VHOSTD_QEMU} (environment) or {@code -Dvhostd.qemu}: {@code both} (the default,
 * what CI runs) runs every guest test on 7.2 and a representative subset on 10.0; {@code 7.2} or
 * {@code 10.0} runs every guest test on that version only, for quicker runs.
 */
public enum QemuVersion {
    V7_2("7.2"), V10_0("10.0");

    private final String label;

    QemuVersion(String label) {
        this.label = label;
    }

    /** The version scripts/guest/run.sh takes as {@code --qemu}. */
    public String label() {
        return label;
    }

    private static String choice() {
        String v = System.getProperty("vhostd.qemu", System.getenv().getOrDefault("VHOSTD_QEMU", "both"));
        return switch (v) {
            case "both", "7.2", "10.0" -> v;
            default -> throw new IllegalStateException("VHOSTD_QEMU (or -Dvhostd.qemu) must be both, 7.2 or 10.0, got '"
                    + v + "'");
        };
    }

    /** The version every guest test uses. */
    public static QemuVersion primary() {
        return choice().equals("10.0") ? V10_0 : V7_2;
    }

    /** The version the subset runs on too, unless the switch picked a single version. */
    public static Optional<QemuVersion> secondary() {
        return choice().equals("both") ? Optional.of(V10_0) : Optional.empty();
    }
}
