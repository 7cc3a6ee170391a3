# make test: everything CI runs. It installs what the tests need when it is
# missing (SIPp from Debian's sip-tester, sipsak, and the softphones baresip
# and linphonec for the interop tests), then vets and runs every test with
# the race detector.
GO ?= go

.PHONY: test deps vet build bench bench-sipp fuzz clean

test: deps vet
	$(GO) test -race -count=1 -timeout 15m ./...

# baresip-core and linphone-cli without recommends: the phones' command-line
# clients only, not their GUIs, video and GStreamer stacks.
deps:
	@{ command -v sipp && command -v sipsak && command -v baresip && command -v linphonec; } >/dev/null 2>&1 || { \
		echo "installing SIPp (sip-tester), sipsak, baresip-core and linphone-cli"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			sip-tester sipsak baresip-core linphone-cli >/dev/null; }

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }
	$(GO) vet ./...

build:
	$(GO) build -o bin/b2bua ./cmd/b2bua

# Go benchmarks of the actor path, the store, authentication and the media relay.
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./actors/... ./auth/... ./media/...

# A fixed-rate SIPp REGISTER run against a fresh server (see README, Performance).
bench-sipp: build deps
	./bench/sipp-register.sh

# Each fuzz target for a while (FUZZTIME=1m make fuzz).
FUZZTIME ?= 30s
fuzz:
	$(GO) test ./sip/edge -run '^$$' -fuzz '^FuzzRequest$$' -fuzztime $(FUZZTIME)
	$(GO) test ./sip/edge -run '^$$' -fuzz '^FuzzContact$$' -fuzztime $(FUZZTIME)
	$(GO) test ./sip/edge -run '^$$' -fuzz '^FuzzExpiresAndQ$$' -fuzztime $(FUZZTIME)
	$(GO) test ./sip/edge -run '^$$' -fuzz '^FuzzPresenceRequest$$' -fuzztime $(FUZZTIME)
	$(GO) test ./sip/edge -run '^$$' -fuzz '^FuzzClientResponse$$' -fuzztime $(FUZZTIME)
	$(GO) test ./sip/edge -run '^$$' -fuzz '^FuzzBranch$$' -fuzztime $(FUZZTIME)
	$(GO) test ./sip/edge -run '^$$' -fuzz '^FuzzRawHead$$' -fuzztime $(FUZZTIME)
	$(GO) test ./sip/edge -run '^$$' -fuzz '^FuzzLightParse$$' -fuzztime $(FUZZTIME)
	$(GO) test ./actors/call -run '^$$' -fuzz '^FuzzReferTo$$' -fuzztime $(FUZZTIME)
	$(GO) test ./actors/registrar -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME)
	$(GO) test ./actors/presence -run '^$$' -fuzz '^FuzzDecodeRecords$$' -fuzztime $(FUZZTIME)
	$(GO) test ./actors/messaging -run '^$$' -fuzz '^FuzzDecodeBox$$' -fuzztime $(FUZZTIME)
	$(GO) test ./actors/call -run '^$$' -fuzz '^FuzzCheckBody$$' -fuzztime $(FUZZTIME)
	$(GO) test ./auth/authparam -run '^$$' -fuzz '^FuzzScanner$$' -fuzztime $(FUZZTIME)
	$(GO) test ./pidf -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME)
	$(GO) test ./pidf -run '^$$' -fuzz '^FuzzDecodeWatcherInfo$$' -fuzztime $(FUZZTIME)
	$(GO) test ./media/sdp -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME)
	$(GO) test ./media/sdp -run '^$$' -fuzz '^FuzzRewrite$$' -fuzztime $(FUZZTIME)
	$(GO) test ./sip/ua -run '^$$' -fuzz '^FuzzSubscriptionState$$' -fuzztime $(FUZZTIME)
	$(GO) test ./sip/ua -run '^$$' -fuzz '^FuzzPeerRequest$$' -fuzztime $(FUZZTIME)
	$(GO) test ./sip/ua -run '^$$' -fuzz '^FuzzSDPDirection$$' -fuzztime $(FUZZTIME)
	$(GO) test ./sip/ua -run '^$$' -fuzz '^FuzzDTMFRelay$$' -fuzztime $(FUZZTIME)
	$(GO) test ./bench -run '^$$' -fuzz '^FuzzParseResponse$$' -fuzztime $(FUZZTIME)
	$(GO) test ./bench -run '^$$' -fuzz '^FuzzUASResponse$$' -fuzztime $(FUZZTIME)
	$(GO) test ./bench -run '^$$' -fuzz '^FuzzDecodeBencode$$' -fuzztime $(FUZZTIME)
	$(GO) test ./media/relay -run '^$$' -fuzz '^FuzzFirstReport$$' -fuzztime $(FUZZTIME)
	$(GO) test ./store -run '^$$' -fuzz '^FuzzDecodeJournal$$' -fuzztime $(FUZZTIME)

clean:
	rm -rf bin data
