# PRÁCTICA TCP 2.2, the server, transcribed from the handout (002_e7c0548db0e94e0c.txt).
# Changes, each marked "# added": the address comes from argv (host port; port 0 lets the OS
# choose) instead of ("127.0.0.1",6780), and once listening, the bound address is printed on
# stderr as our servers do, so that it can be started on port 0. Run it with python3 -u
# (unbuffered), or its transcript arrives only when it exits. It works on data.txt in its
# current directory.
import datetime
import socket
import sys

MTU = 1024
flag = 0

# Diccionario de confirmación de bloqueo. En el caso de quererse escalar esto, sería necesaria
# la implementación de un código capaz de escanear en busca de los ficheros .txt en el servidor,
# cuyos nombres serían incluidos en este diccionario.
# - 0: fichero no bloqueado
# - (IP, host): fichero bloqueado por el cliente identificado con (IP, Host)
blocked_files = {"data.txt":0}

sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
sock.bind((sys.argv[1], int(sys.argv[2])))  # added: was sock.bind(("127.0.0.1",6780))
sock.listen(1)
print("listening on %s:%d (tcp)" % sock.getsockname(), file=sys.stderr)  # added

while True:
    print("Waiting for clients...")
    conn, client_address = sock.accept()
    print("Connection received from client " + str(client_address))
    
    try:
        while True:
            data = str(conn.recv(MTU).decode())

            if (data == "BYE"):
                print("Received BYE command from client")
                conn.sendall("Bye".encode())
                flag = 1
                break
                
            elif (data[0:3] == "GET"):
                print("Received GET command from client")
                
                filename = data[4:]
                with open(filename) as f:
                    contents = f.read()
                    conn.sendall(contents.encode())
            
            # Al recibir el comando LOCK , el servidor extrae el nombre del archivo a bloquear,
            # comprueba en el diccionario, empleando como clave el nombre del fichero el valor de bloqueo,
            # si es igual a 0, procede a completar el comando e informar al cliente del correcto bloqueo del archivo.
            # Si estuviese bloqueado (!= 0) se informa al cliente.
            elif (data[0:4] == "LOCK"):
                print("Received LOCK command from client")
                
                filename = data[5:]
                if (blocked_files.get(filename) == 0):
                    blocked_files[filename] = client_address
                    conn.sendall("SUCCESS: File has been asociated with your address".encode())
                else:
                    conn.sendall("ERROR: File is blocked".encode())
            
            # El comando PUT se recibiría en el lado del servidor como un string muy largo con las
            # modificaciones en el fichero. En primer lugar se comprueba si el cliente que está enviando
            # esta información es quien ha bloqueado el fichero previamente, si es así, se aceptan e implementan
            # los cambios en el fichero y se desbloquea el fichero (poniendo su valor a 0)
            # Si no fuese así, el servidor informa al cliente de que el archivo está bloqueado por otra persona
            else:
                print("Received PUT command from client")
                
                if (blocked_files.get("data.txt") == client_address):
                    with open("data.txt", 'w') as f:
                        f.write(data)
                        conn.sendall("File has been modified".encode())
                    
                    blocked_files["data.txt"] = 0
                      
                else:
                    conn.sendall("File is blocked".encode())
                 
        if flag == 1:
            conn.close()
            print("Closing connection")
            break
            
    except ConnectionResetError:
        print("Lost connection")
        break
    except ConnectionAbortedError:
        print("Lost connection")
        break
    except FileNotFoundError:
        print("File requested by client not found")
        conn.sendall("File not found".encode())
        continue
