package netcode

// Close codes of RFC 6455 §7.4.1 that netcode sends or reports. Codes of the
// application (4000-4999, such as docs/protocol.md's 4001-4010) are the caller's:
// Conn.Close sends any code a close frame may carry.
const (
	CloseNormal          uint16 = 1000 // also the echo of an empty close frame
	CloseGoingAway       uint16 = 1001 // idle timeout, Shutdown
	CloseProtocolError   uint16 = 1002 // a frame RFC 6455 forbids
	CloseUnsupportedData uint16 = 1003 // a text frame: messages are binary
	CloseAbnormal        uint16 = 1006 // reported to OnClose only: no close handshake
	CloseInvalidPayload  uint16 = 1007 // a close reason that is not UTF-8
	ClosePolicyViolation uint16 = 1008 // slow consumer: write queue over its bound
	CloseTooLarge        uint16 = 1009 // a message over MaxMessageBytes
	CloseInternalError   uint16 = 1011 // the server cannot go on with this connection
)
