package dev.vhostd.protocol.device;

/**
 * What became of telling the front-end that config space changed (a capacity after a resize): for
 * the operator who asked for the change, and for the API's answer.
 */
public record ConfigNotice(Outcome outcome, String detail) {
    public enum Outcome {
        /** The front-end acknowledged the message (REPLY_ACK on the back-end channel). */
        ACKNOWLEDGED,
        /** Sent; the front-end did not negotiate REPLY_ACK, so no answer was awaited. */
        SENT,
        /** No front-end is attached; the next one reads the new config when it connects. */
        NO_FRONTEND,
        /** The front-end did not negotiate BACKEND_REQ or gave no channel: it cannot be told. */
        NOT_SUPPORTED,
        /** The front-end refused it, did not answer in time, or the channel broke. */
        FAILED
    }

    /** True if the front-end was reached (acknowledged or, without REPLY_ACK, sent). */
    public boolean delivered() {
        return outcome == Outcome.ACKNOWLEDGED || outcome == Outcome.SENT;
    }

    public static ConfigNotice noFrontend() {
        return new ConfigNotice(Outcome.NO_FRONTEND, "no front-end is attached; the next one reads the new config");
    }
}
