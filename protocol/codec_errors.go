package protocol

// Decoding errors. Every one is a *Error with CodeBadRequest (but
// ErrBodyTooLarge: CodeTooLarge), so the gateway
// can answer it as is. They are package-level values, not built per call,
// because rejecting hostile input must not allocate; callers must not modify
// them. Messages are short, constant and safe to show to a client.
var (
	// Structure of the MessagePack bytes (reader, skip, validate).
	ErrTruncated   = &Error{Code: CodeBadRequest, Msg: "message truncated"}
	ErrLength      = &Error{Code: CodeBadRequest, Msg: "length exceeds message"}
	ErrInvalidCode = &Error{Code: CodeBadRequest, Msg: "not MessagePack"}
	ErrExtension   = &Error{Code: CodeBadRequest, Msg: "unsupported MessagePack extension"}
	ErrTooDeep     = &Error{Code: CodeBadRequest, Msg: "nesting too deep"}
	ErrMapKey      = &Error{Code: CodeBadRequest, Msg: "map key is not a string"}
	ErrTrailing    = &Error{Code: CodeBadRequest, Msg: "trailing bytes after value"}
	ErrEmpty       = &Error{Code: CodeBadRequest, Msg: "empty message"}
	ErrNonFinite   = &Error{Code: CodeBadRequest, Msg: "numbers must be finite (no NaN or infinity)"}

	// Type checks of the reader's typed reads.
	ErrWantMap    = &Error{Code: CodeBadRequest, Msg: "expected a map"}
	ErrWantArray  = &Error{Code: CodeBadRequest, Msg: "expected an array"}
	ErrWantString = &Error{Code: CodeBadRequest, Msg: "expected a string"}
	ErrWantBinary = &Error{Code: CodeBadRequest, Msg: "expected binary"}
	ErrWantUint   = &Error{Code: CodeBadRequest, Msg: "expected a non-negative integer"}
	ErrIntRange   = &Error{Code: CodeBadRequest, Msg: "integer out of range"}

	// Envelope (DecodeRequest).
	ErrRequestNotMap = &Error{Code: CodeBadRequest, Msg: "request must be a map"}
	ErrOpMissing     = &Error{Code: CodeBadRequest, Msg: "op is required"}
	ErrOpType        = &Error{Code: CodeBadRequest, Msg: "op must be a string of 1..64 bytes"}
	ErrRidType       = &Error{Code: CodeBadRequest, Msg: "rid must be an integer in 0..4294967295"}
	ErrDType         = &Error{Code: CodeBadRequest, Msg: "d must be a map"}
	ErrDuplicateKey  = &Error{Code: CodeBadRequest, Msg: "duplicate key in request"}

	// Bodies (DecodeSend, DecodeBody).
	ErrBodyNotMap   = &Error{Code: CodeBadRequest, Msg: "d must be a map"}
	ErrDataMissing  = &Error{Code: CodeBadRequest, Msg: "data is required"}
	ErrDataType     = &Error{Code: CodeBadRequest, Msg: "data must be binary"}
	ErrToType       = &Error{Code: CodeBadRequest, Msg: "to must be an array of user ids"}
	ErrToEmpty      = &Error{Code: CodeBadRequest, Msg: "to must not be empty"}
	ErrToTooMany    = &Error{Code: CodeBadRequest, Msg: "to has more than 256 user ids"}
	ErrBodyType     = &Error{Code: CodeBadRequest, Msg: "wrong field type in d"}
	ErrBodyTooLarge = &Error{Code: CodeTooLarge, Msg: "d is larger than 16 KiB"}
	ErrBodyKeys     = &Error{Code: CodeBadRequest, Msg: "d has more than 64 keys"}
	ErrAttrsTooMany = &Error{Code: CodeBadRequest, Msg: "attrs has more than 16 keys"}
	ErrAttrsKey     = &Error{Code: CodeBadRequest, Msg: "attrs key must be 1..64 bytes"}
	ErrAttrsValue   = &Error{Code: CodeBadRequest, Msg: "attrs values must be strings or finite numbers"}
	ErrAttrsString  = &Error{Code: CodeBadRequest, Msg: "attrs string value longer than 256 bytes"}
)
