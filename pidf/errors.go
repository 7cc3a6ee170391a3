package pidf

import "errors"

// ErrTooLarge is returned when a body is longer than Limits.MaxBytes. The edge answers 413 Request Entity
// Too Large.
var ErrTooLarge = errors.New("pidf: body too large")

// ErrMalformed is returned for a body that is not well-formed XML, has a DOCTYPE, or is not the expected
// document (wrong root element or namespace, a bad attribute value). The edge answers 400 Bad Request.
var ErrMalformed = errors.New("pidf: malformed document")

// ErrTooDeep is returned when elements nest deeper than Limits.MaxDepth. The edge answers 400.
var ErrTooDeep = errors.New("pidf: document nested too deep")

// ErrTooManyElements is returned when a body has more than Limits.MaxElements elements. The edge answers 400.
var ErrTooManyElements = errors.New("pidf: too many elements")
