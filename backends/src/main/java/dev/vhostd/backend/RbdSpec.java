package dev.vhostd.backend;

import java.util.Locale;

/**
 * An rbd: URI taken apart: {@code rbd:POOL/IMAGE[@SNAP][,option=value...]}.
 *
 * @param pool           the RADOS pool
 * @param image          the image name
 * @param snapshot       the snapshot to export (read-only), or null for the image head
 * @param conf           ceph.conf path
 * @param id             the client id, without "client." (admin)
 * @param keyring        a keyring path, or null for what ceph.conf says
 * @param namespace      the RADOS namespace inside the pool, or null
 * @param cluster        the cluster name (ceph)
 * @param connectTimeout seconds to wait for the monitors at start (client_mount_timeout and
 *                       rados_mon_op_timeout)
 * @param ioTimeout      seconds after which a request the cluster does not answer fails with an
 *                       I/O error (rados_osd_op_timeout); 0 holds requests until the cluster is back
 * @param lockTimeout    seconds to wait at start for the exclusive lock a crashed owner still holds
 */
public record RbdSpec(String pool, String image, String snapshot, String conf, String id, String keyring,
                      String namespace, String cluster, int connectTimeout, int ioTimeout, int lockTimeout) {
    public static final String USAGE = "rbd:POOL/IMAGE[@SNAP][,conf=PATH][,id=USER][,keyring=PATH][,namespace=NS]"
            + "[,cluster=NAME][,connect_timeout=SECONDS][,io_timeout=SECONDS][,lock_timeout=SECONDS]";

    /** Parses what follows "rbd:". */
    public static RbdSpec parse(String rest) {
        String[] parts = rest.split(",", -1);
        String target = parts[0];
        int slash = target.indexOf('/');
        if (slash <= 0 || slash == target.length() - 1 || target.indexOf('/', slash + 1) >= 0) {
            throw new BackendOpenException("rbd:" + target + " must name a pool and an image, such as rbd:rbd/disk0; "
                    + USAGE);
        }
        String pool = target.substring(0, slash);
        String image = target.substring(slash + 1);
        String snap = null;
        int at = image.indexOf('@');
        if (at >= 0) {
            snap = image.substring(at + 1);
            image = image.substring(0, at);
            if (snap.isEmpty() || image.isEmpty()) {
                throw new BackendOpenException("rbd:" + target + ": empty image or snapshot name; " + USAGE);
            }
        }
        String conf = "/etc/ceph/ceph.conf";
        String id = "admin";
        String keyring = null;
        String namespace = null;
        String cluster = "ceph";
        int connectTimeout = 30;
        int ioTimeout = 30;
        int lockTimeout = 60;
        for (int i = 1; i < parts.length; i++) {
            String p = parts[i];
            int eq = p.indexOf('=');
            if (eq <= 0 || eq == p.length() - 1) {
                throw new BackendOpenException("rbd: option '" + p + "' is not NAME=VALUE; " + USAGE);
            }
            String name = p.substring(0, eq).strip().toLowerCase(Locale.ROOT);
            String value = p.substring(eq + 1).strip();
            switch (name) {
                case "conf" -> conf = value;
                case "id" -> id = value.startsWith("client.") ? value.substring("client.".length()) : value;
                case "keyring" -> keyring = value;
                case "namespace" -> namespace = value;
                case "cluster" -> cluster = value;
                case "connect_timeout" -> connectTimeout = seconds(name, value, 1);
                case "io_timeout" -> ioTimeout = seconds(name, value, 0);
                case "lock_timeout" -> lockTimeout = seconds(name, value, 0);
                default -> throw new BackendOpenException("unknown rbd: option '" + name + "'; " + USAGE);
            }
        }
        if (id.isEmpty()) {
            throw new BackendOpenException("rbd: id= names no user; " + USAGE);
        }
        return new RbdSpec(pool, image, snap, conf, id, keyring, namespace, cluster, connectTimeout, ioTimeout,
                lockTimeout);
    }

    private static int seconds(String name, String value, int min) {
        int n;
        try {
            n = Integer.parseInt(value.endsWith("s") ? value.substring(0, value.length() - 1) : value);
        } catch (NumberFormatException e) {
            throw new BackendOpenException("rbd: " + name + "=" + value + " is not a whole number of seconds", e);
        }
        if (n < min || n > 3600) {
            throw new BackendOpenException("rbd: " + name + "=" + value + " is out of range: " + min + " to 3600 seconds");
        }
        return n;
    }

    /** pool[/namespace]/image[@snap], as the rbd tool prints it. */
    public String imageSpec() {
        return pool + "/" + (namespace == null || namespace.isEmpty() ? "" : namespace + "/") + image
                + (snapshot == null ? "" : "@" + snapshot);
    }
}
