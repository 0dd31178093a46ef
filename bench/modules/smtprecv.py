# bench/modules: the mail module's SMTP server and its own limit.
#   smtprecv.py serve PORT DIR
#	aiosmtpd (Debian's python3-aiosmtpd) on loopback, no TLS, no AUTH:
#	counts messages, saves the first to DIR/msg (for the client below to
#	send messages of the same size), writes DIR/count at SIGTERM.
#   smtprecv.py send PORT N MSGFILE
#	smtplib sends MSGFILE N times over one connection (the module keeps
#	its connection from one event to the next) and prints
#	"ok=N failed=M seconds=S rate=R".
import os, signal, smtplib, sys, time

if sys.argv[1] == "send":
    port, n, msg = int(sys.argv[2]), int(sys.argv[3]), open(sys.argv[4], "rb").read()
    ok, t0 = 0, time.monotonic()
    with smtplib.SMTP("127.0.0.1", port) as s:
        for _ in range(n):
            if not s.sendmail("ca@example.com", ["ops@example.com"], msg):
                ok += 1
    t = time.monotonic() - t0
    print(f"ok={ok} failed={n - ok} seconds={t:.3f} rate={ok / t:.0f}")
    sys.exit(0)

from aiosmtpd.controller import Controller

port, out = int(sys.argv[2]), sys.argv[3]
count = [0]


class Handler:
    async def handle_DATA(self, server, session, envelope):
        count[0] += 1
        if count[0] == 1:
            open(out + "/msg", "wb").write(envelope.original_content)
        return "250 OK"


signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
c = Controller(Handler(), hostname="127.0.0.1", port=port)
c.start()
open(out + "/ready", "w").close()
signal.sigwait({signal.SIGTERM, signal.SIGINT})
c.stop()
open(out + "/count", "w").write(f"{count[0]}\n")
