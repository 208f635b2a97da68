"""The original assignment's client, kept as its users run it: it sends json.dumps(request) with
no newline, reads one recv(1024) and tells a price from a message by its float type.

Usage: original_client.py HOST PORT [--tls CAFILE]; menu choices come from stdin.
"""
import json
import socket
import ssl
import sys

HOST = sys.argv[1]
PORT = int(sys.argv[2])
CAFILE = sys.argv[4] if len(sys.argv) > 4 and sys.argv[3] == "--tls" else None


def send_request(data):
    raw = socket.create_connection((HOST, PORT), timeout=10)
    if CAFILE:
        context = ssl.create_default_context(cafile=CAFILE)
        raw = context.wrap_socket(raw, server_hostname="localhost")
    with raw as s:
        request = {"status": "OK", "data": data}
        s.sendall(json.dumps(request).encode("utf-8"))
        response = s.recv(1024)
        return json.loads(response.decode("utf-8"))


def main():
    while True:
        print("1. Danh sach coin")
        print("2. Gia mot coin")
        print("0. Thoat")
        try:
            choice = input("Chon: ").strip()
        except EOFError:
            return
        if choice == "1":
            reply = send_request("MARKET ALL")
            for name, price in reply["data"].items():
                assert isinstance(price, float), (name, price)
                print(f"{name}: {price}")
        elif choice == "2":
            symbol = input("Ma coin: ").strip()
            reply = send_request(f"MARKET {symbol}")
            if reply["status"] == "OK" and isinstance(reply["data"], float):
                print(f"PRICE {symbol} {reply['data']}")
            else:
                print(f"MESSAGE {reply['data']}")
        elif choice == "0":
            return


main()
