package pidf

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// TestExtensionRoundTrip covers the namespace cases of extension elements the writer must get right.
func TestExtensionRoundTrip(t *testing.T) {
	var manyNS strings.Builder
	for i := range 9 {
		fmt.Fprintf(&manyNS, `<x%d:e xmlns:x%d="urn:ns:%d" x%d:a="v"/>`, i, i, i, i)
	}
	tests := []struct{ name, body string }{
		{"no namespace inside default", `<e xmlns=""><f/></e>`},
		{"pidf inside no namespace", `<e xmlns=""><p:x xmlns:p="urn:ietf:params:xml:ns:pidf"><y xmlns="urn:ietf:params:xml:ns:pidf"/></p:x></e>`},
		{"attribute in the pidf namespace", `<x:e xmlns:x="urn:x" xmlns:p="urn:ietf:params:xml:ns:pidf" p:a="1" b="2"/>`},
		{"xml namespace", `<x:e xmlns:x="urn:x" xml:lang="fr" xml:space="preserve"> kept </x:e>`},
		{"mixed content", `<x:e xmlns:x="urn:x">a<x:b/>c<!-- split -->d<![CDATA[<&>]]></x:e>`},
		{"escapes", "<x:e xmlns:x=\"urn:x\" a=\"&quot;&lt;&#9;&#10;&#13;\">&amp;\r\n&#13;]]&gt;</x:e>"},
		{"same prefix two namespaces", `<x:e xmlns:x="urn:1"><x:f xmlns:x="urn:2"/></x:e>`},
		{"known namespaces as extensions", `<dm:other xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" xmlns:caps="urn:ietf:params:xml:ns:pidf:caps" caps:x="1"/>`},
		{"many namespaces", manyNS.String()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := `<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="e"><tuple id="t"><status><basic>open</basic></status>` +
				tc.body + `</tuple></presence>`
			d, err := Parse([]byte(in))
			if err != nil {
				t.Fatal(err)
			}
			if len(d.Tuples) != 1 || len(d.Tuples[0].Extra) == 0 {
				t.Fatalf("extension not kept: %+v", d)
			}
			out := d.Marshal()
			d2, err := Parse(out)
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if !reflect.DeepEqual(d, d2) {
				t.Errorf("differs:\n%s\n%+v\n%+v", out, d.Tuples[0].Extra, d2.Tuples[0].Extra)
			}
		})
	}
}

// TestEscapeInvalid: characters XML cannot carry in a Document built by code become U+FFFD.
func TestEscapeInvalid(t *testing.T) {
	d := State{Status: StatusCustom, Custom: "a\x00b\xffc"}.Document("e")
	back, err := Parse(d.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	if got := FromDocument(back).Custom; got != "a\uFFFDb\uFFFDc" {
		t.Errorf("got %q", got)
	}
}

func ExampleState_Document() {
	body := State{Status: StatusBusy, Note: "deadline"}.Document("sip:alice@example.com").Marshal()
	fmt.Println(string(body))
	doc, _ := Parse(body)
	fmt.Println(FromDocument(doc).Status)
	// Output:
	// <presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid" entity="sip:alice@example.com"><tuple id="t"><status><basic>open</basic></status></tuple><dm:person id="p"><rpid:activities><rpid:busy/></rpid:activities><dm:note>deadline</dm:note></dm:person></presence>
	// busy
}
