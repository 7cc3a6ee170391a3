package bench

// MediaSIPOptions shapes the calls of the media scenario's sip control.
type MediaSIPOptions struct {
	Domain       string
	CalleePrefix string
	CallerPrefix string
}

// DefaultMediaSIPOptions returns the defaults.
func DefaultMediaSIPOptions() MediaSIPOptions {
	return MediaSIPOptions{Domain: "localhost", CalleePrefix: "mcallee", CallerPrefix: "mcaller"}
}

func newSIPControl(cfg MediaConfig) (mediaControl, error) {
	return nil, ErrBadConfig
}
