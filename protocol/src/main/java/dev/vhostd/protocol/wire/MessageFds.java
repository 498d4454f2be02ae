package dev.vhostd.protocol.wire;

import java.util.List;

import dev.vhostd.sys.OwnedFd;

/** The fds a decoded message carries, for whoever must close them when it does not keep them. */
public final class MessageFds {
    private MessageFds() {}

    /** The fds owned by {@code message}, in wire order (empty for messages without fds). */
    public static List<OwnedFd> of(Message message) {
        return switch (message) {
            case Message.SetMemTable m -> m.fds();
            case Message.AddMemReg m -> List.of(m.fd());
            case Message.SetInflightFd m -> List.of(m.fd());
            case Message.SetBackendReqFd m -> List.of(m.fd());
            case Message.SetLogBase m when m.fd() != null -> List.of(m.fd());
            case Message.SetLogFd m -> List.of(m.fd());
            case Message.SetVringFd m when m.fd() != null -> List.of(m.fd());
            default -> List.of();
        };
    }

    /** Closes every fd the message carries (idempotent: closed OwnedFds stay closed). */
    public static void close(Message message) {
        MessageDecoder.closeAll(of(message));
    }
}
