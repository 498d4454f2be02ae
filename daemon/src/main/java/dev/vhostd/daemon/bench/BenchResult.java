package dev.vhostd.daemon.bench;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** What one bench run measured, and its three renderings: summary, RESULT line and JSON. */
public record BenchResult(String rw, int queues, int depth, int blockSize, boolean eventIdx, double seconds, long ops,
        long reads, long writes, long errors, long mismatches, double iops, double mbPerSecond, double latMeanUs,
        double latP50Us, double latP99Us, double latP999Us, double latMaxUs, double kicksPerRequest,
        double callsPerRequest, double backendCpuUsPerRequest, double frontendCpuUsPerRequest, long backendPid,
        List<String> mismatchReports) {

    public BenchResult {
        mismatchReports = List.copyOf(mismatchReports);
    }

    /** Key/value pairs in a fixed order; -1 marks a value that could not be measured. */
    public Map<String, Object> fields() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("rw", rw);
        m.put("queues", queues);
        m.put("depth", depth);
        m.put("bs", blockSize);
        m.put("event_idx", eventIdx ? "on" : "off");
        m.put("seconds", round(seconds, 3));
        m.put("ops", ops);
        m.put("reads", reads);
        m.put("writes", writes);
        m.put("errors", errors);
        m.put("mismatches", mismatches);
        m.put("iops", Math.round(iops));
        m.put("mb_s", round(mbPerSecond, 1));
        m.put("lat_mean_us", round(latMeanUs, 2));
        m.put("lat_p50_us", round(latP50Us, 2));
        m.put("lat_p99_us", round(latP99Us, 2));
        m.put("lat_p999_us", round(latP999Us, 2));
        m.put("lat_max_us", round(latMaxUs, 2));
        m.put("kicks_per_req", round(kicksPerRequest, 4));
        m.put("calls_per_req", round(callsPerRequest, 4));
        m.put("backend_cpu_us_per_req", round(backendCpuUsPerRequest, 3));
        m.put("frontend_cpu_us_per_req", round(frontendCpuUsPerRequest, 3));
        m.put("backend_pid", backendPid);
        return m;
    }

    /** {@code RESULT key=value ...}: one line, easy to grep and split in scripts. */
    public String resultLine() {
        StringBuilder b = new StringBuilder("RESULT");
        fields().forEach((k, v) -> b.append(' ').append(k).append('=')
                .append(v instanceof java.math.BigDecimal d ? d.toPlainString() : v));
        return b.toString();
    }

    public String json() {
        StringBuilder b = new StringBuilder("{");
        fields().forEach((k, v) -> {
            if (b.length() > 1) {
                b.append(',');
            }
            b.append('"').append(k).append("\":");
            b.append(v instanceof String s ? '"' + s + '"'
                    : v instanceof java.math.BigDecimal d ? d.toPlainString() : v.toString());
        });
        b.append(",\"mismatch_reports\":[");
        for (int i = 0; i < mismatchReports.size(); i++) {
            b.append(i == 0 ? "" : ",").append('"').append(mismatchReports.get(i).replace("\\", "\\\\")
                    .replace("\"", "\\\"")).append('"');
        }
        return b.append("]}").toString();
    }

    public String summary() {
        StringBuilder b = new StringBuilder();
        b.append(String.format(Locale.ROOT, "%s bs=%d queues=%d depth=%d event-idx=%s: %d requests in %.2f s%n", rw,
                blockSize, queues, depth, eventIdx ? "on" : "off", ops, seconds));
        b.append(String.format(Locale.ROOT, "  IOPS        %,.0f%n  throughput  %.1f MB/s%n", iops, mbPerSecond));
        b.append(String.format(Locale.ROOT, "  latency us  p50 %.2f  p99 %.2f  p99.9 %.2f  mean %.2f  max %.1f%n",
                latP50Us, latP99Us, latP999Us, latMeanUs, latMaxUs));
        b.append(String.format(Locale.ROOT, "  per request kicks %.4f  guest notifications %.4f%n", kicksPerRequest,
                callsPerRequest));
        b.append(String.format(Locale.ROOT, "  CPU us/request  back-end %s  front-end %s%n",
                backendCpuUsPerRequest < 0 ? "n/a" : String.format(Locale.ROOT, "%.3f (pid %d)", backendCpuUsPerRequest, backendPid),
                frontendCpuUsPerRequest < 0 ? "n/a" : String.format(Locale.ROOT, "%.3f", frontendCpuUsPerRequest)));
        if (errors > 0) {
            b.append(String.format(Locale.ROOT, "  ERRORS: %d requests completed with a non-OK status%n", errors));
        }
        if (mismatches > 0) {
            b.append(String.format(Locale.ROOT, "  VERIFY FAILED: %d reads returned wrong data%n", mismatches));
            for (String r : mismatchReports) {
                b.append("    ").append(r).append(System.lineSeparator());
            }
        }
        return b.toString();
    }

    /** Rounded, and rendered without exponent (3.0E-4 would trip simple parsers): a BigDecimal prints plainly. */
    private static java.math.BigDecimal round(double v, int digits) {
        return java.math.BigDecimal.valueOf(v).setScale(digits, java.math.RoundingMode.HALF_UP).stripTrailingZeros();
    }
}
